"""Tell a partner that a handoff arrived: e-mail and a signed webhook, through the outbox.

Notifications carry no personal data (reference, priority, a link to the inbox): the summary
stays behind the inbox's login and audit log.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.gateway.store.models import Handoff, OutboxItem
from bot.settings import Settings


def enqueue_new_handoff(session: Session, handoff: Handoff, settings: Settings) -> list[OutboxItem]:
    config = settings.notify.get(handoff.partner_id, {})
    event = {
        "event": "handoff.created",
        "reference": handoff.reference,
        "partner": handoff.partner_id,
        "priority": handoff.priority,
        "url": f"{settings.public_url}/inbox/handoffs/{handoff.id}",
    }
    items = []
    if config.get("email") and settings.smtp_host:
        items.append(OutboxItem(kind="email", target=config["email"], payload=event))
    if config.get("webhook"):
        items.append(OutboxItem(kind="webhook", target=config["webhook"], payload=event))
    session.add_all(items)
    return items
