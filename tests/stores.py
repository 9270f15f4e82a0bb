"""Both stores of one test: the gateway's database and a tracker store with Rasa's events table
(the `stores` fixture, in conftest), and a conversation seeded in both."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

from bot.gateway import relay
from bot.gateway.store.models import Handoff, InboundEvent, OutboxItem, now

EVENTS = Table(  # the columns of Rasa 3.6's SQLTrackerStore that matter here
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("data", Text),
)


def seed(sessions, tracker, conversation_id: str, days_ago: int) -> None:
    """A conversation with messages, a handoff, an outbox item and tracker events."""
    moment = now() - timedelta(days=days_ago)
    with sessions() as session:
        conversation = relay.conversation_for(session, conversation_id, "fr")
        conversation.sector, conversation.distress_level = "horeca", "high"
        session.flush()
        relay.record(
            session, conversation_id, "person", [{"text": "Je n'en peux plus, 0470 12 34 56"}]
        )
        relay.record(session, conversation_id, "bot", [{"text": "Je vous entends."}])
        session.add(
            InboundEvent(channel="web", event_id=conversation_id, conversation_id=conversation_id)
        )
        session.add(OutboxItem(kind="channel", target=conversation_id, payload={"messages": []}))
        session.add(
            Handoff(
                reference=f"BXL-{conversation_id}", conversation=conversation, sequence=1,
                partner_id="ced", reason="distress", priority=1, consent=True,
                summary={"text": {"fr": "Détresse élevée", "nl": "Hoge nood"}},
                transcript=[{"author": "person", "text": "Je n'en peux plus"}],
                callback_phone="0470 12 34 56", callback_slot="morning",
            )
        )  # fmt: skip
        conversation.last_message_at = moment
        session.commit()
    epoch = moment.replace(tzinfo=UTC).timestamp()
    with tracker.begin() as connection:
        for kind in ("user", "bot", "slot"):
            connection.execute(
                EVENTS.insert().values(
                    sender_id=conversation_id, type_name=kind, timestamp=epoch, data="{}"
                )
            )
