"""The live relay between a person and a counsellor, whatever the channel.

Every message in and out is stored on the conversation (the transcript, and the mailbox the web
chat reads). While a counsellor owns the conversation (mode "human") the person's messages go to
the counsellor and the bot stays silent; handing back or closing gives the conversation back to
the bot. Channels other than the web chat get counsellor messages through the outbox.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import DateTime, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.gateway.store.models import Conversation, Message, OutboxItem, now


@functools.cache
def _open(dialect: str, touch: bool) -> Any:
    """INSERT the conversation, or fill its language if unknown, and with `touch` set its last
    message's time (PostgreSQL and SQLite)."""
    upsert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(Conversation)
    changes = {"language": func.coalesce(Conversation.language, upsert.excluded.language)}
    if touch:
        changes["last_message_at"] = upsert.excluded.last_message_at
    return upsert.values(
        id=bindparam("conversation"),
        channel=bindparam("channel"),
        language=bindparam("language"),
        last_message_at=bindparam("at", type_=DateTime),
    ).on_conflict_do_update(index_elements=[Conversation.id], set_=changes)


_STORE_MESSAGES = insert(Message).returning(Message.id, sort_by_parameter_order=True)
_TOUCH = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation"))
    .values(last_message_at=bindparam("at", type_=DateTime))
)


def open_conversation(
    session: Session, conversation_id: str, language: str | None = None, touch: bool = False
) -> None:
    """Create the conversation on its first message, in one statement whoever else creates it at
    the same moment (another gateway); a known language is kept, an unknown one is filled.
    `touch`: a message comes with this call, and its time is the conversation's last message's
    (the caller then records it with `touched=True`)."""
    session.connection().execute(
        _open(session.get_bind().dialect.name, touch),
        {
            "conversation": conversation_id,
            "channel": conversation_id.split(":", 1)[0],
            "language": language,
            "at": now(),
        },
    )


def conversation_for(
    session: Session, conversation_id: str, language: str | None = None
) -> Conversation:
    """The stored conversation, created on its first message."""
    open_conversation(session, conversation_id, language)
    return session.get(Conversation, conversation_id)


def record(
    session: Session,
    conversation_id: str,
    author: str,
    answers: list[dict[str, Any]],
    counsellor_id: int | None = None,
    touched: bool = False,
) -> list[dict[str, Any]]:
    """Store messages of one author ({"text", "buttons"?} each), in order; returns them as the
    channels and the web chat show them, with their ids. The conversation's `last_message_at`
    is set too, unless the caller's own statement on the conversation set it (`touched`: the
    inbound queue's `open_conversation(touch=True)` and lease renewal, one statement fewer for
    every message)."""
    at = now()
    rows = [
        {
            "conversation_id": conversation_id,
            "author": author,
            "text": answer["text"],
            "buttons": answer.get("buttons") or None,
            "counsellor_id": counsellor_id,
            "created_at": at,
        }
        for answer in answers
    ]
    if not rows:
        return []
    connection = session.connection()
    ids = connection.execute(_STORE_MESSAGES, rows).scalars()
    if not touched:
        connection.execute(_TOUCH, {"conversation": conversation_id, "at": at})
    return [shown(i, row["text"], row["buttons"]) for i, row in zip(ids, rows, strict=True)]


def shown(message_id: int, text: str, buttons: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A stored message as channels and the web chat get it."""
    return {"id": message_id, "text": text, **({"buttons": buttons} if buttons else {})}


def send_to_person(
    session: Session,
    conversation: Conversation,
    text: str,
    author: str = "counsellor",
    counsellor_id: int | None = None,
) -> None:
    """A counsellor's (or the system's) message to the person, on the person's channel."""
    out = record(session, conversation.id, author, [{"text": text}], counsellor_id)
    if conversation.channel != "web":  # the web chat fetches its messages itself
        enqueue_for_channel(session, conversation.id, conversation.language, out)


def enqueue_for_channel(
    session: Session, conversation_id: str, language: str | None, messages: list[dict[str, Any]]
) -> None:
    """One outbox item per message: a retry never sends an earlier message twice."""
    for message in messages:
        session.add(
            OutboxItem(
                kind="channel",
                target=conversation_id,
                payload={"messages": [message], "language": language or "fr"},
            )
        )


def messages_after(session: Session, conversation_id: str, after_id: int) -> list[Message]:
    """What the person has not seen yet (the web chat polls with the last id it showed)."""
    return list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.id > after_id)
            .order_by(Message.id)
        )
    )
