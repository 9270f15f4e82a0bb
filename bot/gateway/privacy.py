"""Erasure on request and the retention purge, in both stores (docs/privacy.md).

The gateway's database holds the messages, handoffs and profiles; Rasa's tracker store holds
the same conversation as events. Both are cleaned here, so nothing survives in one of them.
An erased handoff keeps a stub that says "erased" (the counsellor sees what happened, and the
audit trail stays whole); the retention purge removes everything older than the period.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, timedelta

from sqlalchemy import Engine, MetaData, Table, delete, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway.store.models import (
    Conversation,
    Handoff,
    InboundEvent,
    Message,
    OutboxItem,
    now,
)
from bot.gateway.texts import both
from bot.settings import Settings

logger = logging.getLogger("relais.privacy")


def tracker_events(engine: Engine) -> Table | None:
    """Rasa's events table, or None before Rasa has created it."""
    if not inspect(engine).has_table("events"):
        return None
    return Table("events", MetaData(), autoload_with=engine)


def _forget_in_gateway(session: Session, conversation_ids: list[str]) -> None:
    # deliveries first: they point at the messages
    session.execute(delete(InboundEvent).where(InboundEvent.conversation_id.in_(conversation_ids)))
    session.execute(delete(Message).where(Message.conversation_id.in_(conversation_ids)))
    session.execute(delete(OutboxItem).where(OutboxItem.target.in_(conversation_ids)))


def erase_conversation(
    sessions: sessionmaker[Session], tracker: Engine, conversation_id: str
) -> None:
    """Everything about one conversation, in both stores; its handoffs become "erased" stubs."""
    with sessions() as session:
        _forget_in_gateway(session, [conversation_id])
        for handoff in session.scalars(
            select(Handoff).where(Handoff.conversation_id == conversation_id)
        ):
            handoff.summary = {"erased": True, "text": both("inbox_erased")}
            handoff.transcript = []
            handoff.callback_phone = handoff.callback_slot = None
        conversation = session.get(Conversation, conversation_id)
        if conversation is not None:
            for column in ("sector", "workers", "commune", "region", "needs", "distress_level"):
                setattr(conversation, column, None)
            conversation.urgency, conversation.owner_id = None, None
            conversation.mode, conversation.erase_requested = "bot", False
            conversation.erased_at = now()
        session.commit()
    events = tracker_events(tracker)
    if events is not None:
        with tracker.begin() as connection:
            connection.execute(delete(events).where(events.c.sender_id == conversation_id))


def purge_expired(sessions: sessionmaker[Session], tracker: Engine, days: int) -> tuple[int, int]:
    """Remove conversations whose last message is older than `days`, in both stores.

    Returns (gateway conversations, tracker conversations) removed.
    """
    cutoff = now() - timedelta(days=days)
    with sessions() as session:
        old = list(
            session.scalars(select(Conversation.id).where(Conversation.last_message_at < cutoff))
        )
        if old:
            _forget_in_gateway(session, old)
            session.execute(delete(Handoff).where(Handoff.conversation_id.in_(old)))
            session.execute(delete(Conversation).where(Conversation.id.in_(old)))
        session.commit()
    events = tracker_events(tracker)
    if events is None:
        return len(old), 0
    cutoff_epoch = cutoff.replace(tzinfo=UTC).timestamp()  # Rasa stores epoch seconds
    with tracker.begin() as connection:
        senders = list(
            connection.scalars(
                select(events.c.sender_id)
                .group_by(events.c.sender_id)
                .having(func.max(events.c.timestamp) < cutoff_epoch)
            )
        )
        if senders:
            connection.execute(delete(events).where(events.c.sender_id.in_(senders)))
    return len(old), len(senders)


async def purge_every(sessions: sessionmaker[Session], tracker: Engine, settings: Settings) -> None:
    """The retention job the gateway runs (at start, then every purge_interval_h hours)."""
    while True:
        try:
            removed = await asyncio.to_thread(
                purge_expired, sessions, tracker, settings.retention_days
            )
            logger.info("retention purge: %s gateway and %s tracker conversations", *removed)
        except Exception:  # a database restarting must not stop the job
            logger.exception("retention purge failed; next try at the next interval")
        await asyncio.sleep(settings.purge_interval_h * 3600)
