"""A person's copy of what Relais stores about them (GDPR article 15, docs/privacy.md).

`collect` gathers one conversation from both stores: the gateway's profile, messages and
handoffs, and Rasa's latest slot values. The bot shows it in the chat in words (`readable`);
the whole copy, machine-readable (article 20), is a JSON download behind a link that only
this conversation's person receives and that expires (`link_token` / `conversation_of`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.catalog import catalog
from bot.gateway.handoffs import ConversationId, token_guard
from bot.gateway.privacy import tracker_events
from bot.gateway.store.models import Conversation, Handoff, Message
from bot.gateway.texts import ERROR_RESPONSES, Refused, text
from bot.intake.profile import label
from bot.settings import Settings

LINK_LIFETIME_S = 3600
# Rasa's own bookkeeping slots: nothing about the person.
_INTERNAL_SLOTS = {"requested_slot", "session_started_metadata"}


def _iso(moment) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _tracker_slots(tracker: Engine, conversation_id: str) -> dict[str, Any]:
    """The latest value of each slot in Rasa's tracker store (its events, replayed in order)."""
    events = tracker_events(tracker)
    if events is None:
        return {}
    slots: dict[str, Any] = {}
    with tracker.connect() as connection:
        rows = connection.execute(
            select(events.c.data)
            .where(events.c.sender_id == conversation_id, events.c.type_name == "slot")
            .order_by(events.c.id)
        )
        for (data,) in rows:
            event = json.loads(data)
            if (name := event.get("name")) and name not in _INTERNAL_SLOTS:
                slots[name] = event.get("value")
    return {name: value for name, value in slots.items() if value not in (None, [], "")}


def collect(sessions: sessionmaker[Session], tracker: Engine, conversation_id: str) -> dict | None:
    """Everything stored about the conversation, or None when nothing is."""
    with sessions() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return None
        messages = session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        ).all()
        handoffs = session.scalars(
            select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id)
        ).all()
        return {
            "conversation": {
                "id": conversation.id,
                "channel": conversation.channel,
                "language": conversation.language,
                "started": _iso(conversation.created_at),
                "last_message": _iso(conversation.last_message_at),
            },
            "profile": {
                "sector": conversation.sector,
                "workers": conversation.workers,
                "commune": conversation.commune,
                "region": conversation.region,
                "needs": conversation.needs or [],
                "distress_level": conversation.distress_level,
                "urgency": conversation.urgency,
            },
            "messages": [
                {"author": m.author, "text": m.text, "at": _iso(m.created_at)} for m in messages
            ],
            "handoffs": [
                {
                    "reference": h.reference,
                    "partner": h.partner_id,
                    "status": h.status,
                    "created": _iso(h.created_at),
                    "summary": h.summary,
                    "callback_phone": h.callback_phone,
                    "callback_slot": h.callback_slot,
                }
                for h in handoffs
            ],
            "engine_slots": _tracker_slots(tracker, conversation_id),
        }


def readable(copy: dict, language: str, retention_days: int) -> str:
    """The copy in a few lines of the person's language; the transcript is only counted (the
    person sees it in the chat, and the download holds it)."""
    profile, unknown = copy["profile"], text("copy_unknown", language)
    needs = ", ".join(label("needs", need, language) for need in profile["needs"])
    handoffs = [
        text(
            "copy_handoff",
            language,
            partner=catalog().partners[h["partner"]].name[language]
            if h["partner"] in catalog().partners
            else h["partner"],
            reference=h["reference"],
            phone=h["callback_phone"] or "—",
        )
        for h in copy["handoffs"]
    ]
    last = copy["conversation"]["last_message"]
    return text(
        "copy_readable",
        language,
        started=copy["conversation"]["started"][:10],
        messages=len(copy["messages"]),
        sector=label("sectors", profile["sector"], language) if profile["sector"] else unknown,
        workers=unknown if profile["workers"] is None else profile["workers"],
        commune=profile["commune"] or unknown,
        needs=needs or unknown,
        distress=text(f"copy_level_{profile['distress_level'] or 'none'}", language),
        handoffs="\n".join(handoffs) or text("copy_no_handoff", language),
        until=_until(last, retention_days),
    )


def _until(last_message: str, retention_days: int) -> str:
    return (
        (datetime.fromisoformat(last_message) + timedelta(days=retention_days)).date().isoformat()
    )


def _signature(secret: str, payload: bytes) -> str:
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def link_token(secret: str, conversation_id: str, now: float | None = None) -> str:
    """An opaque, expiring token naming one conversation, signed with the gateway's secret."""
    expires = int((now or time.time()) + LINK_LIFETIME_S)
    payload = base64.urlsafe_b64encode(f"{expires}|{conversation_id}".encode()).decode()
    return f"{payload}.{_signature(secret, payload.encode())}"


def conversation_of(secret: str, token: str, now: float | None = None) -> str | None:
    """The conversation a token names, or None when it is forged, altered or expired."""
    payload, _, signature = token.partition(".")
    if not secret or not hmac.compare_digest(signature, _signature(secret, payload.encode())):
        return None
    try:
        expires, _, conversation_id = base64.urlsafe_b64decode(payload).decode().partition("|")
        if int(expires) < (now or time.time()):
            return None
    except ValueError:
        return None
    return conversation_id or None


class CopyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: ConversationId
    language: Literal["fr", "nl"] = "fr"


def data_copy_router(
    settings: Settings, sessions: sessionmaker[Session], tracker: Engine
) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/api/data-copies", dependencies=[Depends(token_guard(settings))], responses=ERROR_RESPONSES
    )
    def post_data_copy(request: CopyRequest) -> dict[str, str]:
        """Asked by the person in the chat: their copy in words, and the link to all of it."""
        copy = collect(sessions, tracker, request.conversation_id)
        if copy is None:
            raise Refused(404, "copy_nothing")
        token = link_token(settings.api_token, request.conversation_id)
        return {
            "text": readable(copy, request.language, settings.retention_days),
            "url": f"{settings.public_url}/privacy/copy/{token}",
        }

    @router.get("/privacy/copy/{token}", include_in_schema=False)
    def download_copy(token: str) -> JSONResponse:
        """The whole copy as a JSON file; the link expires after an hour."""
        conversation_id = conversation_of(settings.api_token, token)
        copy = collect(sessions, tracker, conversation_id) if conversation_id else None
        if copy is None:
            raise Refused(404, "copy_link_expired")
        return JSONResponse(
            copy,
            headers={
                "Content-Disposition": 'attachment; filename="relais-data.json"',
                "Cache-Control": "no-store",
            },
        )

    return router
