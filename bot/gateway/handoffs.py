"""POST /api/handoffs: the actions hand a conversation to a partner's queue.

Token-authenticated (the shared RELAIS_API_TOKEN) and idempotent on conversation id + sequence:
a retried call returns the same reference and creates nothing. The answer says what happens
next: whether a counsellor of that partner is there now, or when someone will answer.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.catalog import catalog
from bot.catalog.model import Opening
from bot.gateway import notify
from bot.gateway.relay import conversation_for
from bot.gateway.store.models import Counsellor, Handoff, LoginSession, now
from bot.gateway.texts import ERROR_RESPONSES, Refused
from bot.settings import Settings

BRUSSELS = ZoneInfo("Europe/Brussels")


# Rasa's sender id: "<channel>:<the channel's id of the person>".
ConversationId = Annotated[str, Field(pattern=r"^(web|telegram|whatsapp):[\w-]{1,100}$")]


class TranscriptLine(BaseModel):
    author: Literal["person", "bot"]
    text: Annotated[str, Field(max_length=5000)]
    at: str | None = None


class Callback(BaseModel):
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ./-]{6,20}$")]
    slot: Annotated[str, Field(max_length=64)]


class HandoffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: ConversationId
    sequence: Annotated[int, Field(ge=1, le=1000)]
    partner: str
    reason: Literal["asked", "distress", "contact", "fallback"]
    priority: Annotated[int, Field(ge=0, le=4)]
    language: Literal["fr", "nl"]
    consent: bool
    summary: dict[str, Any]
    transcript: Annotated[list[TranscriptLine], Field(max_length=500)]
    callback: Callback | None = None


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: ConversationId


def opening_hours(partner_id: str, settings: Settings) -> Opening:
    """The partner's hours from the catalogue, or the inbox's default staffed hours."""
    hours = catalog().partners[partner_id].contact.hours
    return hours or Opening.parse(settings.inbox_hours)


def counsellors_signed_in(session: Session, partner_id: str) -> int:
    """Counsellors of the partner (or coordinators) with a live session right now."""
    return session.scalar(
        select(func.count(func.distinct(LoginSession.counsellor_id)))
        .join(Counsellor)
        .where(
            LoginSession.expires_at > now(),
            Counsellor.active.is_(True),
            (Counsellor.partner_id == partner_id) | (Counsellor.role == "coordinator"),
        )
    )


def availability(session: Session, partner_id: str, settings: Settings) -> dict[str, Any]:
    """ "now" when the partner is open and one of its counsellors is signed in; otherwise
    "later", with the time it next opens when it is closed (None: open, but nobody free)."""
    moment = datetime.now(BRUSSELS)
    hours = opening_hours(partner_id, settings)
    if not hours.is_open(moment):
        return {
            "status": "later",
            "answer_from": hours.next_opening(moment).isoformat("T", "minutes"),
        }
    if counsellors_signed_in(session, partner_id):
        return {"status": "now"}
    return {"status": "later", "answer_from": None}


def _reference(settings: Settings, handoff_id: int) -> str:
    return f"{settings.reference_prefix}-{datetime.now(BRUSSELS).year}-{handoff_id:06d}"


def create_handoff(
    session: Session, request: HandoffRequest, settings: Settings
) -> tuple[Handoff, bool]:
    """The handoff for (conversation, sequence): created now, or the one that already exists."""
    existing = session.scalar(
        select(Handoff).where(
            Handoff.conversation_id == request.conversation_id,
            Handoff.sequence == request.sequence,
        )
    )
    if existing:
        return existing, False
    conversation = conversation_for(session, request.conversation_id, request.language)
    handoff = Handoff(
        reference=f"pending-{request.conversation_id}-{request.sequence}",
        conversation=conversation,
        sequence=request.sequence,
        partner_id=request.partner,
        reason=request.reason,
        priority=request.priority,
        summary=request.summary,
        transcript=[line.model_dump() for line in request.transcript],
        consent=request.consent,
        callback_phone=request.callback.phone if request.callback else None,
        callback_slot=request.callback.slot if request.callback else None,
    )
    session.add(handoff)
    session.flush()  # the id makes the reference
    handoff.reference = _reference(settings, handoff.id)
    notify.enqueue_new_handoff(session, handoff, settings)
    return handoff, True


def token_guard(settings: Settings) -> Callable[..., None]:
    """The dependency of every internal route: the shared token, compared in constant time."""

    def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        expected = f"Bearer {settings.api_token}"
        if (
            not settings.api_token
            or not authorization
            or not hmac.compare_digest(authorization.encode(), expected.encode())
        ):
            raise Refused(401, "error_unauthorized")

    return require_token


def handoffs_router(settings: Settings, sessions: sessionmaker[Session]) -> APIRouter:
    router = APIRouter()

    require_token = token_guard(settings)

    @router.get(
        "/api/availability", dependencies=[Depends(require_token)], responses=ERROR_RESPONSES
    )
    def get_availability(partner: str) -> dict[str, Any]:
        """Whether a counsellor of `partner` can answer now, asked before the consent question
        so that a person nobody can answer soon is offered a phone callback."""
        if partner not in catalog().partners:
            raise Refused(422, "error_unknown_partner")
        with sessions() as session:
            return availability(session, partner, settings)

    @router.post("/api/erasures", dependencies=[Depends(require_token)], status_code=202)
    def post_erasure(request: ErasureRequest) -> dict[str, str]:
        """Asked by the person and confirmed: carried out as soon as Rasa has answered."""
        with sessions() as session:
            conversation_for(session, request.conversation_id).erase_requested = True
            session.commit()
        return {"status": "accepted"}

    @router.post("/api/handoffs", dependencies=[Depends(require_token)], responses=ERROR_RESPONSES)
    def post_handoff(request: HandoffRequest) -> JSONResponse:
        if request.partner not in catalog().partners:
            raise Refused(422, "error_unknown_partner")
        with sessions() as session:
            try:
                handoff, created = create_handoff(session, request, settings)
                session.commit()
            except IntegrityError:  # the same call raced itself: the other one won
                session.rollback()
                handoff, created = create_handoff(session, request, settings)
            body = {
                "reference": handoff.reference,
                "partner": handoff.partner_id,
                "created": created,
                "next": availability(session, handoff.partner_id, settings),
            }
        return JSONResponse(status_code=201 if created else 200, content=body)

    return router
