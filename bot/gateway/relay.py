"""The live relay between a person and a counsellor, whatever the channel.

Every message in and out is stored on the conversation (the transcript, and the mailbox the web
chat reads). While a counsellor owns the conversation (mode "human") the person's messages go to
the counsellor and the bot stays silent; handing back or closing gives the conversation back to
the bot. Channels other than the web chat get counsellor messages through the outbox.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.gateway.store.models import Conversation, Message, OutboxItem, now


def conversation_for(
    session: Session, conversation_id: str, language: str | None = None
) -> Conversation:
    """The stored conversation, created on its first message."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        channel = conversation_id.split(":", 1)[0]
        conversation = Conversation(id=conversation_id, channel=channel, language=language)
        session.add(conversation)
    elif language and not conversation.language:
        conversation.language = language
    return conversation


def record(
    session: Session,
    conversation: Conversation,
    author: str,
    text: str,
    buttons: list[dict[str, Any]] | None = None,
    counsellor_id: int | None = None,
) -> Message:
    message = Message(
        conversation=conversation,
        author=author,
        text=text,
        buttons=buttons or None,
        counsellor_id=counsellor_id,
    )
    session.add(message)
    conversation.last_message_at = now()
    return message


def send_to_person(
    session: Session,
    conversation: Conversation,
    text: str,
    author: str = "counsellor",
    counsellor_id: int | None = None,
) -> Message:
    """A counsellor's (or the system's) message to the person, on the person's channel."""
    message = record(session, conversation, author, text, counsellor_id=counsellor_id)
    if conversation.channel != "web":  # the web chat fetches its messages itself
        session.flush()  # the message id goes with it
        enqueue_for_channel(session, conversation, [{"id": message.id, "text": text}])
    return message


def enqueue_for_channel(
    session: Session, conversation: Conversation, messages: list[dict[str, Any]]
) -> None:
    """One outbox item per message: a retry never sends an earlier message twice."""
    language = conversation.language or "fr"
    for message in messages:
        session.add(
            OutboxItem(
                kind="channel",
                target=conversation.id,
                payload={"messages": [message], "language": language},
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
