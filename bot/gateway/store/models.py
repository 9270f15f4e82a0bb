"""SQLAlchemy 2 models of the gateway's database. Alembic migrations in bot/gateway/migrations.

The gateway owns the conversation's mode (bot | human | closed): while a counsellor owns it the
bot stays silent. Message texts and contact details are personal data: bounded retention, erasable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # stored naive, always UTC


class Base(DeclarativeBase):
    # Named constraints: SQLite batch migrations can only drop constraints that have a name.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Conversation(Base):
    """One person on one channel; id is Rasa's sender id, "<channel>:<user id>"."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # web | telegram | whatsapp
    language: Mapped[str | None] = mapped_column(String(2))
    mode: Mapped[str] = mapped_column(String(8), default="bot")  # bot | human | closed
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("counsellors.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_message_at: Mapped[datetime] = mapped_column(default=now)
    erased_at: Mapped[datetime | None]
    # Set by POST /api/erasures while Rasa handles the confirmation; the gateway erases once
    # Rasa has answered (and saved the turn), in both stores.
    erase_requested: Mapped[bool] = mapped_column(default=False)
    # The triage profile the bot found (bot/gateway/profile.py, with the bot's answers): what
    # the coordinators' report counts. Categories only, nothing that names the person.
    sector: Mapped[str | None] = mapped_column(String(32))
    workers: Mapped[int | None]
    commune: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(16))
    needs: Mapped[list[Any] | None] = mapped_column(JSON)
    distress_level: Mapped[str | None] = mapped_column(String(12))  # the highest seen
    urgency: Mapped[str | None] = mapped_column(String(8))
    # The gateway answering this conversation's messages (bot/gateway/inbound.py): one at a
    # time and in order, whichever gateway received them; the lease lapses if that gateway dies.
    inbound_lease_until: Mapped[datetime | None]
    inbound_lease_owner: Mapped[str | None] = mapped_column(String(32))

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", cascade="all, delete-orphan"
    )
    handoffs: Mapped[list[Handoff]] = relationship(back_populates="conversation")


class Message(Base):
    """Every message in and out, in order: the transcript and the live relay's mailbox."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    author: Mapped[str] = mapped_column(String(12))  # person | bot | counsellor | system
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[Any] | None] = mapped_column(JSON)
    counsellor_id: Mapped[int | None] = mapped_column(ForeignKey("counsellors.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Counsellor(Base):
    """An inbox account: a counsellor of one partner, or a coordinator who sees every queue."""

    __tablename__ = "counsellors"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    partner_id: Mapped[str | None] = mapped_column(String(64))  # a catalogue partner id
    role: Mapped[str] = mapped_column(String(16), default="counsellor")  # | coordinator
    language: Mapped[str] = mapped_column(String(2), default="fr")
    password_hash: Mapped[str] = mapped_column(String(256))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)


class LoginSession(Base):
    """A signed-in browser: the cookie holds a random token, the database only its hash."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    counsellor_id: Mapped[int] = mapped_column(ForeignKey("counsellors.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]

    counsellor: Mapped[Counsellor] = relationship()


class Handoff(Base):
    """A conversation handed to a partner's queue, with the summary the counsellor acts on."""

    __tablename__ = "handoffs"
    __table_args__ = (
        UniqueConstraint("conversation_id", "sequence", name="uq_handoff_conversation_sequence"),
        Index("ix_handoffs_queue", "partner_id", "status", "priority", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)  # BXL-2026-000123
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    sequence: Mapped[int]  # the conversation's 1st, 2nd... handoff: the idempotency key
    partner_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))  # asked | distress | contact | fallback
    priority: Mapped[int]  # 0 = most urgent (critical distress) .. 4
    status: Mapped[str] = mapped_column(String(12), default="queued")  # | claimed | closed
    outcome: Mapped[str | None] = mapped_column(String(16))  # helped | redirected | ...
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)  # bot/summary's structured fields
    transcript: Mapped[list[Any]] = mapped_column(JSON)
    consent: Mapped[bool] = mapped_column(default=False)
    callback_phone: Mapped[str | None] = mapped_column(String(32))
    callback_slot: Mapped[str | None] = mapped_column(String(64))
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("counsellors.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    claimed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    conversation: Mapped[Conversation] = relationship(back_populates="handoffs")
    counsellor: Mapped[Counsellor | None] = relationship()


class AuditEntry(Base):
    """Who read or changed which handoff, when: every read of personal data is recorded."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    counsellor_id: Mapped[int | None] = mapped_column(ForeignKey("counsellors.id"))
    action: Mapped[str] = mapped_column(String(32))  # read | claim | reply | hand_back | close ...
    # An erased handoff leaves its audit trail (who read what, when) without the link.
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=now, index=True)


class OutboxItem(Base):
    """Something to deliver to the outside world, kept until it is delivered (with retries)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # email | webhook | channel
    target: Mapped[str] = mapped_column(String(512))  # address, URL or conversation id
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=now)
    last_error: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None]


class InboundEvent(Base):
    """A channel delivery, stored before it is acknowledged: duplicates (the same event id
    delivered again) are recognised, and what was not processed yet survives a restart."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("channel", "event_id", name="uq_inbound_channel_event"),
        Index("ix_inbound_pending", "status", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    text: Mapped[str | None] = mapped_column(Text)  # what goes to the bot (a payload for buttons)
    language_hint: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # | done
    received_at: Mapped[datetime] = mapped_column(default=now)
    # Not before: a worker that takes it pushes this forward (a lease); a crash lets it expire.
    due_at: Mapped[datetime] = mapped_column(default=now, index=True)
    # The stored messages that answered it (the web chat's HTTP answer, whoever computed it).
    answer_ids: Mapped[list[Any] | None] = mapped_column(JSON)
