"""Retention and erasure leave nothing behind, in the gateway's database and in Rasa's tracker."""

from __future__ import annotations

import dataclasses
from datetime import UTC, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, func, select

from bot.gateway import relay
from bot.gateway.app import create_app
from bot.gateway.privacy import erase_conversation, purge_expired
from bot.gateway.store.db import make_engine, migrate, session_factory
from bot.gateway.store.models import (
    Conversation,
    Handoff,
    InboundEvent,
    Message,
    OutboxItem,
    now,
)
from bot.launch import free_port
from bot.settings import get_settings

EVENTS = Table(  # the columns of Rasa 3.6's SQLTrackerStore that matter here
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("data", Text),
)


@pytest.fixture
def stores(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate(url)
    gateway = make_engine(url)
    tracker = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    EVENTS.metadata.create_all(tracker)
    yield session_factory(gateway), tracker
    gateway.dispose()
    tracker.dispose()


def seed(sessions, tracker, conversation_id: str, days_ago: int) -> None:
    """A conversation with messages, a handoff, an outbox item and tracker events."""
    moment = now() - timedelta(days=days_ago)
    with sessions() as session:
        conversation = relay.conversation_for(session, conversation_id, "fr")
        conversation.sector, conversation.distress_level = "horeca", "high"
        session.flush()
        relay.record(session, conversation, "person", "Je n'en peux plus, 0470 12 34 56")
        relay.record(session, conversation, "bot", "Je vous entends.")
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


def count(sessions, tracker, conversation_id: str) -> dict[str, int]:
    with sessions() as session:
        found = {
            model.__name__: session.scalar(
                select(func.count()).select_from(model).where(column == conversation_id)
            )
            for model, column in (
                (Message, Message.conversation_id),
                (InboundEvent, InboundEvent.conversation_id),
                (OutboxItem, OutboxItem.target),
                (Conversation, Conversation.id),
                (Handoff, Handoff.conversation_id),
            )
        }
    with tracker.connect() as connection:
        found["tracker events"] = connection.scalar(
            select(func.count()).select_from(EVENTS).where(EVENTS.c.sender_id == conversation_id)
        )
    return found


def test_the_retention_purge_removes_old_conversations_from_both_stores(stores):
    sessions, tracker = stores
    seed(sessions, tracker, "web:old-conversation", days_ago=91)
    seed(sessions, tracker, "telegram:42", days_ago=89)
    assert purge_expired(sessions, tracker, days=90) == (1, 1)
    assert set(count(sessions, tracker, "web:old-conversation").values()) == {0}
    kept = count(sessions, tracker, "telegram:42")
    assert kept["Message"] == 2 and kept["tracker events"] == 3 and kept["Handoff"] == 1


def test_erasure_leaves_only_an_erased_stub_for_the_counsellor(stores):
    sessions, tracker = stores
    seed(sessions, tracker, "whatsapp:32470123456", days_ago=1)
    erase_conversation(sessions, tracker, "whatsapp:32470123456")
    left = count(sessions, tracker, "whatsapp:32470123456")
    assert left == {
        "Message": 0, "InboundEvent": 0, "OutboxItem": 0, "Conversation": 1, "Handoff": 1,
        "tracker events": 0,
    }  # fmt: skip
    with sessions() as session:
        handoff = session.scalars(select(Handoff)).one()
        conversation = session.get(Conversation, "whatsapp:32470123456")
        assert handoff.summary["erased"] and handoff.transcript == []
        assert handoff.callback_phone is None and handoff.summary["text"]["fr"].startswith("Effacé")
        assert conversation.erased_at and conversation.sector is None
        assert conversation.distress_level is None


def test_the_gateway_runs_the_purge_at_start_and_commands_erase_on_every_channel(tmp_path):
    settings = dataclasses.replace(
        get_settings(), var_dir=tmp_path, rasa_url=f"http://127.0.0.1:{free_port()}",
        tracker_db=str(tmp_path / "tracker.db"), retention_days=30,
    )  # fmt: skip
    migrate(settings.database)
    sessions = session_factory(make_engine(settings.database))
    tracker = make_engine(settings.tracker_url)
    EVENTS.metadata.create_all(tracker)
    seed(sessions, tracker, "web:stale-conversation", days_ago=31)
    with TestClient(create_app(settings)) as client:
        for _ in range(50):
            if set(count(sessions, tracker, "web:stale-conversation").values()) == {0}:
                break
            client.get("/healthz")
        assert set(count(sessions, tracker, "web:stale-conversation").values()) == {0}
        client.post("/api/chat", json={"sender_id": "abcdefgh99", "text": "/oublier"})
        with sessions() as session:
            events = session.scalars(select(InboundEvent.text)).all()
        assert events == ["/erase_data"], "typed /oublier reaches the bot as the erase intent"


def test_the_privacy_page_exists_in_both_languages(tmp_path):
    settings = dataclasses.replace(get_settings(), var_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        fr, nl = client.get("/privacy?lang=fr").text, client.get("/privacy?lang=nl").text
    assert "90 jours" in fr and "/oublier" in fr and "9.2.a" in fr
    assert "90 dagen" in nl and "/vergeten" in nl
