"""Every person's message, whatever the channel: stored first, processed once, answered.

`accept` stores the delivery and the person's message in one transaction (a duplicate delivery,
same channel event id, is recognised and dropped), so a webhook can be acknowledged at once.
`process` answers it: nothing while a counsellor owns the conversation (the relay), a short
note for content the bot cannot read, otherwise the bot's answers. Channel replies leave through
the outbox; the web chat gets them in the HTTP answer. A delivery the engine could not answer
stays pending: the person is told once, and the worker answers it when the engine is back.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway import relay
from bot.gateway.privacy import erase_conversation
from bot.gateway.rasa_client import EngineUnavailable, RasaClient
from bot.gateway.store.db import lease
from bot.gateway.store.models import Conversation, InboundEvent, Message, now
from bot.gateway.texts import both
from bot.gateway.texts import text as gateway_text
from connectors.base import Inbound, parse_button_ref

logger = logging.getLogger("relais.inbound")
LEASE_S = 60
# Typed commands every channel understands, as the bot's intents.
COMMANDS = {
    "/oublier": "/erase_data",
    "/vergeten": "/erase_data",
    "/mesdonnees": "/request_data_copy",
    "/mijngegevens": "/request_data_copy",
}


def web_inbound(sender_id: str, text: str, language: str | None, client_id: str | None) -> Inbound:
    return Inbound("web", sender_id, client_id or uuid.uuid4().hex, text, language)


def _button(session: Session, conversation_id: str, said: str) -> tuple[str, str] | None:
    """(payload, title) of the button a channel sent back, or of "2" answering a numbered list."""
    ref = parse_button_ref(said)
    if ref:
        message = session.get(Message, ref[0])
        if message is None or message.conversation_id != conversation_id:
            return None
        index = ref[1]
    elif said.strip().isdigit():
        message = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.author != "person")
            .order_by(Message.id.desc())
            .limit(1)
        ).first()
        index = int(said.strip())
    else:
        return None
    buttons = (message.buttons or []) if message else []
    if 1 <= index <= len(buttons):
        return buttons[index - 1]["payload"], buttons[index - 1]["title"]
    return None


class Conversations:
    def __init__(
        self, settings, sessions: sessionmaker[Session], rasa: RasaClient, tracker: Engine
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.rasa = rasa
        self.tracker = tracker  # Rasa's tracker store, for erasures

    def accept(self, inbound: Inbound, answer: bool = True) -> int | None:
        """Store the delivery; its id, or None when this event was already received.

        answer=False records only that the event was seen (a delivery report, not a message).
        """
        with self.sessions() as session:
            duplicate = session.scalar(
                select(InboundEvent.id).where(
                    InboundEvent.channel == inbound.channel,
                    InboundEvent.event_id == inbound.event_id,
                )
            )
            if duplicate:
                return None
            conversation = relay.conversation_for(
                session, inbound.conversation_id, inbound.language_hint
            )
            session.flush()
            if not answer:
                session.add(
                    InboundEvent(
                        channel=inbound.channel,
                        event_id=inbound.event_id,
                        conversation_id=conversation.id,
                        status="done",
                    )
                )
                return self._commit_new(session)
            said, shown = inbound.text, inbound.text
            if said is not None and (button := _button(session, conversation.id, said)):
                said, shown = button
            said = COMMANDS.get((said or "").strip().lower(), said)
            message = relay.record(
                session,
                conversation,
                "person",
                shown if shown is not None else f"[{inbound.unsupported}]",
            )
            event = InboundEvent(
                channel=inbound.channel,
                event_id=inbound.event_id,
                conversation_id=conversation.id,
                text=said,
                language_hint=inbound.language_hint,
            )
            session.add(event)
            session.flush()
            event.message_id = message.id
            return self._commit_new(session, event)

    @staticmethod
    def _commit_new(session: Session, event: InboundEvent | None = None) -> int | None:
        try:
            session.commit()
        except IntegrityError:  # the same delivery raced itself into another process
            session.rollback()
            return None
        return event.id if event else 0

    def _claim(self, event_id: int) -> InboundEvent | None:
        """Take the event for processing (others skip it while the lease runs)."""
        with self.sessions() as session:
            taken = lease(session, InboundEvent.due_at, event_id, LEASE_S)
            session.commit()
            return session.get(InboundEvent, event_id) if taken else None

    def _finish(
        self, event_id: int, answers: list[dict[str, Any]], language: str | None
    ) -> list[dict[str, Any]]:
        """Store the answers, queue them for a channel, mark the delivery done (one transaction)."""
        with self.sessions() as session:
            event = session.get(InboundEvent, event_id)
            conversation = session.get(Conversation, event.conversation_id)
            stored = [
                relay.record(session, conversation, "bot", a["text"], a.get("buttons"))
                for a in answers
            ]
            session.flush()
            out = [
                {"id": m.id, "text": m.text, **({"buttons": m.buttons} if m.buttons else {})}
                for m in stored
            ]
            if conversation.channel != "web":
                relay.enqueue_for_channel(session, conversation, out)
            event.status = "done"
            session.commit()
            return out

    async def process(self, event_id: int) -> tuple[str, list[dict[str, Any]]]:
        """(mode, answers) for one stored delivery; raises EngineUnavailable (kept pending)."""
        event = self._claim(event_id)
        if event is None:
            return "bot", []
        with self.sessions() as session:
            conversation = session.get(Conversation, event.conversation_id)
            mode, language = conversation.mode, conversation.language or event.language_hint
        if mode == "human":  # the counsellor reads it in the inbox; the bot stays silent
            return mode, self._finish(event_id, [], language)
        if event.text is None:  # voice, photo, sticker...: in both languages until one is known
            said = (
                gateway_text("unsupported_content", language)
                if language
                else "\n\n".join(both("unsupported_content").values())
            )
            note = [{"text": said}]
            return mode, self._finish(event_id, note, language)
        metadata = {"channel": event.channel, "language_hint": event.language_hint}
        try:
            answers = await self.rasa.send(event.conversation_id, event.text, metadata)
        except EngineUnavailable:
            self._release(event_id)
            raise
        if event.channel != "web":  # the widget shows the notice in its own frame
            answers = self._privacy_notice_first(event.conversation_id, language) + answers
        out = self._finish(event_id, answers, language)
        if self._erase_requested(event.conversation_id):  # Rasa has saved the turn: erase now
            erase_conversation(self.sessions, self.tracker, event.conversation_id)
        return mode, out

    def _privacy_notice_first(self, conversation_id: str, language: str | None) -> list[dict]:
        """The first answer of a Telegram or WhatsApp conversation starts with the notice."""
        with self.sessions() as session:
            answered = session.scalar(
                select(Message.id)
                .where(Message.conversation_id == conversation_id, Message.author != "person")
                .limit(1)
            )
        if answered:
            return []
        values = {"days": self.settings.retention_days, "url": self.settings.public_url}
        if language:
            return [{"text": gateway_text("privacy_notice", language, **values)}]
        return [{"text": "\n\n".join(both("privacy_notice", **values).values())}]

    def _erase_requested(self, conversation_id: str) -> bool:
        with self.sessions() as session:
            conversation = session.get(Conversation, conversation_id)
            return bool(conversation and conversation.erase_requested)

    def _release(self, event_id: int) -> None:
        with self.sessions() as session:
            session.execute(
                update(InboundEvent).where(InboundEvent.id == event_id).values(due_at=now())
            )
            session.commit()

    def tell_engine_down(self, event_id: int) -> None:
        """On a channel, the person hears at once that we are in trouble (and the crisis lines)."""
        with self.sessions() as session:
            event = session.get(InboundEvent, event_id)
            conversation = session.get(Conversation, event.conversation_id)
            language = conversation.language or event.language_hint or "fr"
            relay.send_to_person(
                session, conversation, gateway_text("engine_down", language), author="system"
            )
            session.commit()

    async def answer(self, event_id: int) -> None:
        """Process a channel delivery in the background; trouble is said once, then retried."""
        try:
            await self.process(event_id)
        except EngineUnavailable:
            self.tell_engine_down(event_id)

    async def retry_pending(self, interval_s: float = 5.0) -> None:
        """The worker: deliveries still pending (engine was down, process died) are answered."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                with self.sessions() as session:
                    due = session.scalars(
                        select(InboundEvent.id)
                        .where(InboundEvent.status == "pending", InboundEvent.due_at <= now())
                        .order_by(InboundEvent.id)
                        .limit(50)
                    ).all()
                for event_id in due:
                    await self.process(event_id)
            except EngineUnavailable:
                continue  # still down: try again later
            except Exception:
                logger.exception("retrying pending deliveries failed")
