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
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Row,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway import profile, relay
from bot.gateway.privacy import erase_conversation
from bot.gateway.rasa_client import EngineUnavailable, RasaClient, Reply
from bot.gateway.store.models import Conversation, InboundEvent, Message, now
from bot.gateway.texts import both
from bot.gateway.texts import text as gateway_text
from connectors.base import Inbound, parse_button_ref

logger = logging.getLogger("relais.inbound")
# Typed commands every channel understands, as the bot's intents.
COMMANDS = {
    "/oublier": "/erase_data",
    "/vergeten": "/erase_data",
    "/mesdonnees": "/request_data_copy",
    "/mijngegevens": "/request_data_copy",
}


class Delivery(NamedTuple):
    """A stored delivery, as `accept` returns it: `process` and `answer` need not read its
    conversation back from the database, nor take the conversation in a transaction of their
    own when `accept` could take it."""

    id: int
    conversation_id: str
    lease: tuple[str, Row[Any]] | None = None  # (token, oldest pending delivery), see `_take_in`


# The queue's statements, built once (building one costs more than running it on SQLite); the
# values are bound at each execution: conversation, token (the lease's owner), until, at.
_CONVERSATION = Conversation.id == bindparam("conversation")
_OURS = Conversation.inbound_lease_owner == bindparam("token")
# Take the conversation when nobody holds it or the lease lapsed.
_TAKE = (
    update(Conversation)
    .where(
        _CONVERSATION,
        or_(
            Conversation.inbound_lease_until.is_(None),
            Conversation.inbound_lease_until <= bindparam("at"),
        ),
    )
    .values(
        inbound_lease_until=bindparam("until", type_=DateTime),
        inbound_lease_owner=bindparam("token"),
    )
)
# Push our lease forward, and read what answering needs of the conversation: its channel, its
# erasure, and its profile (which the answers' profile may change).
_RENEW = (
    update(Conversation)
    .where(_CONVERSATION, _OURS)
    .values(inbound_lease_until=bindparam("until", type_=DateTime))
    .returning(Conversation.channel, Conversation.erase_requested, *profile.STORED)
)
# The same, when storing answers (their time is the conversation's last message's).
_RENEW_ANSWERING = _RENEW.values(last_message_at=bindparam("at", type_=DateTime))
_RELEASE = (
    update(Conversation)
    .where(_CONVERSATION, _OURS)
    .values(inbound_lease_until=None, inbound_lease_owner=None)
)
_PENDING = exists().where(
    InboundEvent.conversation_id == bindparam("conversation"), InboundEvent.status == "pending"
)
# Give the conversation back only if nothing is pending: after an answer, the usual case.
_RELEASE_IF_DONE = _RELEASE.where(~_PENDING)
# The oldest pending delivery, with what answering it needs from its conversation.
_NEXT = (
    select(
        InboundEvent.id,
        InboundEvent.conversation_id,
        InboundEvent.channel,
        InboundEvent.text,
        InboundEvent.language_hint,
        Conversation.mode,
        Conversation.language,
    )
    .join(Conversation, Conversation.id == InboundEvent.conversation_id)
    .where(InboundEvent.conversation_id == bindparam("conversation"))
    .where(InboundEvent.status == "pending")
    .order_by(InboundEvent.id)
    .limit(1)
)
_MARK_DONE = (
    update(InboundEvent)
    .where(InboundEvent.id == bindparam("event"), InboundEvent.status == "pending")
    .values(status="done", answer_ids=bindparam("answers", type_=JSON))
)
_STORE_EVENT = insert(InboundEvent).returning(InboundEvent.id)


class Answered(NamedTuple):
    """One delivery answered, and what the queue does next."""

    mode: str
    answers: list[dict[str, Any]]
    erase: bool  # the person asked to be forgotten: erase now, still holding the lease
    next: Row[Any] | None  # the next pending delivery, under our lease; None: given back


def engine_metadata(channel: str, language_hint: str | None) -> dict[str, Any]:
    """What Rasa gets with a message besides its text: the actions read both."""
    return {"channel": channel, "language_hint": language_hint}


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

    def accept(self, inbound: Inbound, answer: bool = True, take: bool = False) -> Delivery | None:
        """Store the delivery; None when this event was already received.

        answer=False records only that the event was seen (a delivery report, not a message).
        take=True also takes the conversation when it is free (`_take_in`), for a caller that
        drains it at once, with nothing in between that could let the lease lapse unused (the
        web chat). A channel's delivery is answered by a background task, which takes it then.
        """
        with self.sessions() as session:
            conversation_id = inbound.conversation_id
            relay.open_conversation(session, conversation_id, inbound.language_hint, touch=answer)
            event = {"channel": inbound.channel, "event_id": inbound.event_id}
            if not answer:
                done = {**event, "status": "done"}
                return self._commit_new(session, done, conversation_id, take=False)
            said, shown = inbound.text, inbound.text
            if said is not None and (button := _button(session, conversation_id, said)):
                said, shown = button
            said = COMMANDS.get((said or "").strip().lower(), said)
            [message] = relay.record(
                session,
                conversation_id,
                "person",
                [{"text": shown if shown is not None else f"[{inbound.unsupported}]"}],
                touched=True,  # by open_conversation
            )
            event |= {
                "message_id": message["id"],
                "text": said,
                "language_hint": inbound.language_hint,
            }
            return self._commit_new(session, event, conversation_id, take)

    def _commit_new(
        self, session: Session, event: dict[str, Any], conversation_id: str, take: bool
    ) -> Delivery | None:
        """Store the event, take the conversation if asked and free (`_take_in`), and commit;
        None for a duplicate: the unique (channel, event id) refuses the event, and nothing of
        this delivery (its message, its conversation's changes, the lease) is kept."""
        try:
            row = {**event, "conversation_id": conversation_id}
            event_id = session.connection().execute(_STORE_EVENT, row).scalar_one()
            lease = self._take_in(session, conversation_id) if take else None
            session.commit()
        except IntegrityError:
            session.rollback()
            return None
        return Delivery(event_id, conversation_id, lease)

    # --- the queue: one gateway at a time answers a conversation, in the order received ---
    #
    # Per delivery, two or three transactions: `accept` stores it (the web chat's also leases
    # the conversation and reads its oldest pending delivery); `_take` does those two otherwise
    # (a channel's background task, the worker, a drain after another holder); `_finish` stores
    # the answers, marks the delivery done and gives the conversation back, or reads the next
    # delivery when there is one. Lease and status statements run as Core on the session's
    # connection: they change columns, not objects the session holds, so the ORM has nothing to
    # synchronise.

    def _take(self, conversation_id: str) -> tuple[str, Row[Any]] | None:
        """`_take_in` in a transaction of its own."""
        with self.sessions() as session:
            taken = self._take_in(session, conversation_id)
            session.commit()
        return taken

    def _take_in(self, session: Session, conversation_id: str) -> tuple[str, Row[Any]] | None:
        """Lease the conversation (conditional UPDATE) and read its oldest pending delivery:
        (token, delivery), or None when another worker, in this gateway or another, holds a
        lease that has not lapsed, or when nothing is pending (the lease is given back). The
        holder finds what this transaction stores when it looks for the next delivery
        (`_next_or_give_back`, `_give_back_or_next`)."""
        token = uuid.uuid4().hex
        at = now()
        values = {"conversation": conversation_id, "token": token, "at": at}
        taken = session.connection().execute(_TAKE, values | {"until": self._until(at)})
        if taken.rowcount != 1:
            return None
        turn = self._next_or_give_back(session, conversation_id, token)
        return (token, turn) if turn is not None else None

    def _next_or_give_back(
        self, session: Session, conversation_id: str, token: str
    ) -> Row[Any] | None:
        """The oldest pending delivery; when there is none, the conversation is given back.

        Called only after this transaction wrote the conversation's row (taking or renewing the
        lease), so it holds that row's write lock until it commits (on SQLite, the database's),
        and no delivery is left behind: one committed before this look is found, and answered
        under the lease we keep; one committed after it is drained only after its commit, and
        that drain's `_take` writes the same row, so it waits for our commit and then finds the
        lease free (PostgreSQL re-checks the UPDATE's condition on the committed row, SQLite
        runs one writer at a time)."""
        turn = session.connection().execute(_NEXT, {"conversation": conversation_id}).first()
        if turn is None:
            self._release(session, conversation_id, token)
        return turn

    def _give_back_or_next(
        self, session: Session, conversation_id: str, token: str
    ) -> Row[Any] | None:
        """`_next_or_give_back` in the other order, for after an answer, when nothing else is
        usually pending: one statement gives the conversation back unless something is."""
        values = {"conversation": conversation_id, "token": token}
        if session.connection().execute(_RELEASE_IF_DONE, values).rowcount == 1:
            return None
        return self._next_or_give_back(session, conversation_id, token)

    @staticmethod
    def _release(session: Session, conversation_id: str, token: str) -> None:
        session.connection().execute(_RELEASE, {"conversation": conversation_id, "token": token})

    def _until(self, at: datetime) -> datetime:
        return at + timedelta(seconds=self.settings.inbound_lease_s)

    def _renew(
        self, session: Session, conversation_id: str, token: str, answering: bool = False
    ) -> Row[Any] | None:
        """Push our lease forward (`answering`: with the answers' time as the conversation's
        last message's); returns what answering needs of the conversation (see _RENEW), or None
        when the lease lapsed and someone else took it."""
        at = now()
        values = {"conversation": conversation_id, "token": token, "until": self._until(at)}
        if answering:
            return session.connection().execute(_RENEW_ANSWERING, values | {"at": at}).first()
        return session.connection().execute(_RENEW, values).first()

    async def _keep(self, conversation_id: str, token: str) -> None:
        """Renew the lease while the engine thinks (it may take longer than one lease)."""
        while True:
            await asyncio.sleep(self.settings.inbound_lease_s / 3)
            with self.sessions() as session:
                if self._renew(session, conversation_id, token) is None:
                    return
                session.commit()

    def _give_back(self, conversation_id: str, token: str) -> None:
        with self.sessions() as session:
            self._release(session, conversation_id, token)
            session.commit()

    async def drain(
        self, conversation_id: str, taken: tuple[str, Row[Any]] | None = None
    ) -> list[tuple[int, str, list[dict[str, Any]]]]:
        """Answer the conversation's pending deliveries, oldest first, under its lease (`taken`:
        the one `accept` took, otherwise taken here); returns (event id, mode, answers) of those
        this call answered. Nothing when another worker holds the conversation: it looks for
        pending deliveries in the transaction that gives the conversation back, so none is left
        behind (`_next_or_give_back`, `_give_back_or_next`). EngineUnavailable stops here: that
        delivery and the later ones stay pending, in order, for the worker."""
        taken = taken or self._take(conversation_id)
        if taken is None:
            return []
        token, turn = taken
        done: list[tuple[int, str, list[dict[str, Any]]]] = []
        keeper = asyncio.create_task(self._keep(conversation_id, token))
        try:
            while turn is not None:
                answered = await self._answer_one(turn, token)
                if answered is None:  # our lease lapsed: the new holder answers
                    break
                done.append((turn.id, answered.mode, answered.answers))
                turn = answered.next
        finally:
            keeper.cancel()
            if turn is not None:  # stopped early (engine down, lease lost): give it back
                self._give_back(conversation_id, token)
        return done

    async def _answer_one(self, turn: Row[Any], token: str) -> Answered | None:
        """One delivery answered and stored, with the next one; None when the lease was lost."""
        mode, language = turn.mode, turn.language or turn.language_hint
        if mode == "human":  # the counsellor reads it in the inbox; the bot stays silent
            return self._finish(turn, [], token, mode)
        if turn.text is None:  # voice, photo, sticker...: in both languages until one is known
            said = (
                gateway_text("unsupported_content", language)
                if language
                else "\n\n".join(both("unsupported_content").values())
            )
            return self._finish(turn, [{"text": said}], token, mode)
        metadata = engine_metadata(turn.channel, turn.language_hint)
        reply = await self.rasa.send(turn.conversation_id, turn.text, metadata)
        answers = reply.answers
        if turn.channel != "web":  # the widget shows the notice in its own frame
            answers = self._privacy_notice_first(turn.conversation_id, language) + answers
        finished = self._finish(turn, answers, token, mode, reply)
        if finished is not None and finished.erase:  # Rasa saved the turn
            erase_conversation(self.sessions, self.tracker, turn.conversation_id)
            return finished._replace(erase=False, next=self._after_erasure(turn, token))
        return finished

    def _finish(
        self,
        event: Row[Any] | InboundEvent,
        answers: list[dict[str, Any]],
        token: str,
        mode: str,
        reply: Reply | None = None,
    ) -> Answered | None:
        """Store the answers, queue them for a channel and mark the delivery done, in one
        transaction, only while we still hold the conversation: answered exactly once. `reply`
        is the engine's, when it answered: its profile is stored in the same transaction. The
        same transaction reads the next pending delivery, or gives the conversation back; not
        when the person asked the engine to forget them: that erasure comes first, under the
        lease."""
        with self.sessions() as session:
            conversation = self._renew(
                session, event.conversation_id, token, answering=bool(answers)
            )
            if conversation is None:
                return None
            out = relay.record(session, event.conversation_id, "bot", answers, touched=True)
            if reply is not None and reply.profile is not None:
                profile.store(session, event.conversation_id, reply.profile, conversation)
            marked = session.connection().execute(
                _MARK_DONE, {"event": event.id, "answers": [m["id"] for m in out]}
            )
            if marked.rowcount != 1:
                session.rollback()
                return None
            if conversation.channel != "web":  # in the language just stored, if it was unknown
                language = conversation.language or (
                    reply.profile.language if reply is not None and reply.profile else None
                )
                relay.enqueue_for_channel(session, event.conversation_id, language, out)
            erase = reply is not None and conversation.erase_requested
            turn = None if erase else self._give_back_or_next(session, event.conversation_id, token)
            session.commit()
            return Answered(mode, out, erase, turn)

    def _after_erasure(self, event: Row[Any], token: str) -> Row[Any] | None:
        """The next pending delivery once the conversation is erased (its mode may have changed),
        or the conversation given back; None too when the lease was lost meanwhile."""
        with self.sessions() as session:
            if self._renew(session, event.conversation_id, token) is None:
                return None
            turn = self._next_or_give_back(session, event.conversation_id, token)
            session.commit()
            return turn

    async def process(self, delivery: Delivery) -> tuple[str, list[dict[str, Any]]]:
        """(mode, answers) for one stored delivery (the web chat waits for them); raises
        EngineUnavailable (the delivery stays pending). Earlier pending messages of the same
        conversation are answered first, and their answers come along."""
        event_id, conversation_id, lease = delivery
        deadline = time.monotonic() + self.settings.rasa_timeout_s + self.settings.inbound_lease_s
        while True:
            answered = await self.drain(conversation_id, lease)
            lease = None
            if any(done_id == event_id for done_id, _, _ in answered):
                mode = next(m for done_id, m, _ in answered if done_id == event_id)
                upto = [a for done_id, _, a in answered if done_id <= event_id]
                return mode, [answer for answers in upto for answer in answers]
            with self.sessions() as session:  # answered by another worker or gateway?
                event = session.get(InboundEvent, event_id)
                mode = session.get(Conversation, conversation_id).mode
                if event.status == "done":
                    messages = [session.get(Message, i) for i in event.answer_ids or []]
                    return mode, [
                        relay.shown(m.id, m.text, m.buttons) for m in messages if m is not None
                    ]
            if time.monotonic() > deadline:  # the page's poll shows the answer when it comes
                return mode, []
            await asyncio.sleep(0.1)

    def _privacy_notice_first(self, conversation_id: str, language: str | None) -> list[dict]:
        """The first answer of a Telegram or WhatsApp conversation starts with the notice."""
        with self.sessions() as session:
            answered = session.scalar(
                select(Message.id)
                .where(Message.conversation_id == conversation_id, Message.author == "bot")
                .limit(1)
            )
        if answered:
            return []
        values = {"days": self.settings.retention_days, "url": self.settings.public_url}
        if language:
            return [{"text": gateway_text("privacy_notice", language, **values)}]
        return [{"text": "\n\n".join(both("privacy_notice", **values).values())}]

    def tell_engine_down(self, event_id: int) -> None:
        """On a channel, the person hears at once that we are in trouble, with the crisis lines
        (in both languages until theirs is known); once, until the bot answers again."""
        with self.sessions() as session:
            event = session.get(InboundEvent, event_id)
            conversation = session.get(Conversation, event.conversation_id)
            last = session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id, Message.author != "person")
                .order_by(Message.id.desc())
                .limit(1)
            ).first()
            notices = {*both("engine_down").values(), "\n\n".join(both("engine_down").values())}
            if last is not None and last.author == "system" and last.text in notices:
                return  # already told, and nothing answered since
            language = conversation.language or event.language_hint
            said = (
                gateway_text("engine_down", language)
                if language
                else "\n\n".join(both("engine_down").values())
            )
            relay.send_to_person(session, conversation, said, author="system")
            session.commit()

    async def answer(self, delivery: Delivery) -> None:
        """Answer a channel delivery in the background (the webhook is already acknowledged);
        trouble is said at once, and the worker answers when the engine is back."""
        try:
            await self.drain(delivery.conversation_id)
        except EngineUnavailable:
            self.tell_engine_down(delivery.id)
        except Exception:
            logger.exception("answering a delivery failed; the worker retries it")

    def _waiting(self, limit: int = 50) -> list[str]:
        """Conversations with pending deliveries that nobody holds (engine was down, a gateway
        died, a web request gave up)."""
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(InboundEvent.conversation_id)
                    .join(Conversation, Conversation.id == InboundEvent.conversation_id)
                    .where(
                        InboundEvent.status == "pending",
                        or_(
                            Conversation.inbound_lease_until.is_(None),
                            Conversation.inbound_lease_until <= now(),
                        ),
                    )
                    .group_by(InboundEvent.conversation_id)
                    .order_by(func.min(InboundEvent.id))
                    .limit(limit)
                )
            )

    async def retry_once(self) -> int:
        """One pass of the worker; returns how many deliveries it answered."""
        results = await asyncio.gather(
            *(self.drain(conversation_id) for conversation_id in self._waiting()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, EngineUnavailable):
                logger.error("retrying a conversation failed: %s", type(result).__name__)
        return sum(len(result) for result in results if isinstance(result, list))

    async def retry_pending(self, interval_s: float | None = None) -> None:
        """The worker: deliveries still pending (engine was down, a gateway died) are answered,
        by whichever gateway gets there first."""
        while True:
            await asyncio.sleep(interval_s or self.settings.inbound_retry_s)
            try:
                await self.retry_once()
            except Exception:  # the database restarting must not kill the worker
                logger.exception("retrying pending deliveries failed")
