"""Deliver what the outbox holds (e-mails, signed webhooks, channel messages), with retries.

The outbox lives in the database, so nothing is lost when a receiver is down or the gateway
restarts. Several gateways can run the worker: an item is leased with a conditional UPDATE
before delivery, and a crashed delivery is retried when its lease expires. Failures back off
exponentially (honouring Retry-After) up to a bounded number of attempts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import smtplib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.message import EmailMessage

import httpx
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.gateway.store.db import lease
from bot.gateway.store.models import OutboxItem, now
from bot.settings import Settings
from connectors.base import retry_after

logger = logging.getLogger("relais.outbox")
SIGNATURE_HEADER = "X-Relais-Signature-256"


class DeliveryError(Exception):
    """A delivery failed; retry_after (seconds) when the receiver said when to come back."""

    def __init__(self, reason: str, retry_after: float | None = None, permanent: bool = False):
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent  # retrying cannot help (blocked bot, closed window...)


def sign(secret: str, body: bytes) -> str:
    """The webhook signature: sha256=<hex HMAC-SHA256 of the exact body bytes>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


Sender = Callable[[OutboxItem], Awaitable[None]]


class Outbox:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        channel_sender: Sender | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.http = httpx.AsyncClient(timeout=10)
        self.senders: dict[str, Sender] = {"email": self._email, "webhook": self._webhook}
        if channel_sender:
            self.senders["channel"] = channel_sender

    async def _webhook(self, item: OutboxItem) -> None:
        body = json.dumps(item.payload, ensure_ascii=False, separators=(",", ":")).encode()
        secret = self.settings.notify.get(item.payload.get("partner", ""), {}).get("secret", "")
        headers = {"Content-Type": "application/json"}
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body)
        try:
            response = await self.http.post(item.target, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise DeliveryError(type(error).__name__) from error
        if response.status_code >= 300:
            raise DeliveryError(f"HTTP {response.status_code}", retry_after(response.headers))

    async def _email(self, item: OutboxItem) -> None:
        settings, event = self.settings, item.payload
        message = EmailMessage()
        message["From"], message["To"] = settings.mail_from, item.target
        message["Subject"] = (
            f"Relais: {event['reference']} (priorité/prioriteit {event['priority']})"
        )
        message.set_content(
            "Une nouvelle demande attend dans votre file Relais.\n"
            "Er wacht een nieuwe aanvraag in uw Relais-wachtrij.\n\n"
            f"{event['reference']}\n{event['url']}\n"
        )

        def send() -> None:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
                if settings.smtp_starttls and smtp.has_extn("starttls"):
                    smtp.starttls()
                if settings.smtp_user:
                    smtp.login(settings.smtp_user, settings.smtp_password)
                smtp.send_message(message)

        try:
            await asyncio.to_thread(send)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(type(error).__name__) from error

    def _lease_due(self, limit: int = 20) -> list[OutboxItem]:
        """Take due items for this worker: others skip them until the lease runs out. A channel
        message waits while an earlier one to the same person is still pending (being sent, or
        backing off after a 429): people get their messages in order."""
        earlier = aliased(OutboxItem)
        leased = []
        with self.sessions() as session:
            due = session.scalars(
                select(OutboxItem.id)
                .where(OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now())
                .where(
                    or_(
                        OutboxItem.kind != "channel",
                        ~exists().where(
                            earlier.target == OutboxItem.target,
                            earlier.status == "pending",
                            earlier.id < OutboxItem.id,
                        ),
                    )
                )
                .order_by(OutboxItem.id)
                .limit(limit)
            ).all()
            for item_id in due:
                if lease(
                    session, OutboxItem.next_attempt_at, item_id, self.settings.outbox_lease_s
                ):
                    leased.append(item_id)
            session.commit()
            return list(
                session.scalars(
                    select(OutboxItem).where(OutboxItem.id.in_(leased)).order_by(OutboxItem.id)
                )
            )

    def _backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        delay = min(self.settings.outbox_base_s * 2 ** (attempts - 1), self.settings.outbox_max_s)
        return timedelta(seconds=max(delay, retry_after or 0))

    async def _deliver(self, item: OutboxItem) -> bool:
        """Send one item and record the outcome; True when it was sent."""
        try:
            await self.senders[item.kind](item)
        except DeliveryError as error:
            with self.sessions() as session:
                stored = session.get(OutboxItem, item.id)
                stored.attempts += 1
                stored.last_error = str(error)[:256]
                if error.permanent or stored.attempts >= self.settings.outbox_max_attempts:
                    stored.status = "failed"
                    logger.error(
                        "outbox item %s given up after %s attempts", item.id, stored.attempts
                    )
                else:
                    stored.next_attempt_at = now() + self._backoff(
                        stored.attempts, error.retry_after
                    )
                    logger.warning("outbox item %s (%s) failed: %s", item.id, item.kind, error)
                session.commit()
            return False
        with self.sessions() as session:  # one statement: the sent-but-unrecorded gap is short
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(status="sent", sent_at=now(), attempts=OutboxItem.attempts + 1)
            )
            session.commit()
        return True

    async def _deliver_in_order(self, items: list[OutboxItem]) -> int:
        """One target's items, in order; after a failure the rest wait for the next pass."""
        sent = 0
        for position, item in enumerate(items):
            if not await self._deliver(item):
                with self.sessions() as session:  # give back what this pass will not send
                    session.execute(
                        update(OutboxItem)
                        .where(OutboxItem.id.in_([i.id for i in items[position + 1 :]]))
                        .values(next_attempt_at=now())
                    )
                    session.commit()
                break
            sent += 1
        return sent

    async def deliver_due(self) -> int:
        """One pass: deliver every due item, each target's in order and targets side by side
        (one person's pacing never holds the others up); returns how many were sent."""
        by_target: dict[str, list[OutboxItem]] = {}
        for item in self._lease_due():
            by_target.setdefault(f"{item.kind}:{item.target}", []).append(item)
        counts = await asyncio.gather(*(self._deliver_in_order(i) for i in by_target.values()))
        return sum(counts)

    async def run(self, interval_s: float = 1.0) -> None:
        """The worker loop (a task of the gateway's lifespan)."""
        while True:
            try:
                await self.deliver_due()
            except Exception:  # the database restarting must not kill the worker
                logger.exception("outbox pass failed; retrying")
            await asyncio.sleep(interval_s)

    async def close(self) -> None:
        await self.http.aclose()
