"""The counsellor inbox: the queue, a handoff's summary and transcript, and the live relay.

Server-rendered pages (templates/inbox/) in French or Dutch; every action is a POST form carrying
the session's CSRF token, answered by a redirect. A counsellor sees only its partner's handoffs
(any other is a 404, as if it did not exist); a coordinator sees every queue and the audit log.
Every read of a handoff and every change to one is written to the audit log.

Live updates poll the database (several gateway processes may share it, so there is no
in-memory bus) and reach the browser as server-sent events; inbox.js then fetches the changed
part of the page again.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import ColumnElement, func, select, true, update
from sqlalchemy.orm import Session, joinedload, sessionmaker
from starlette.concurrency import run_in_threadpool

from bot.catalog import catalog
from bot.gateway import auth, relay
from bot.gateway.store.models import (
    AuditEntry,
    Conversation,
    Counsellor,
    Handoff,
    Message,
    now,
)
from bot.gateway.texts import LANGUAGES, all_texts, language_from_header, text
from bot.settings import Settings

BRUSSELS = ZoneInfo("Europe/Brussels")
POLL_SECONDS = 2.0
RETRY_MS = 3000  # how long a browser waits before reconnecting a dropped event stream
OPEN = ("queued", "claimed")
OUTCOMES = ("helped", "redirected", "unreachable", "no_need", "other")
AUTHORS = ("person", "bot", "counsellor", "system")
ERRORS = ("claimed", "mine", "closed", "not_yours", "not_live", "reply_length", "outcome")
CLOSED_SHOWN = 200
AUDIT_SHOWN = 500
# The summary's fields shown as a definition list, in this order ("text" is shown above it).
SUMMARY_FIELDS = (
    "reason",
    "distress",
    "urgency",
    "needs",
    "circumstances",
    "story",
    "sector",
    "workers",
    "commune",
    "region",
    "recommended",
    "contact",
    "consent",
    "language",
    "channel",
    "partner",
)

templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
)


@cache
def page_texts(language: str) -> dict[str, str]:
    """The inbox's own texts (keys inbox_*) in one language, for the templates."""
    return {key: value[language] for key, value in all_texts().items() if key.startswith("inbox_")}


def local_time(moment: datetime) -> str:
    """A stored (naive UTC) or aware time, as Brussels local time."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(BRUSSELS).strftime("%d/%m/%Y %H:%M")


def _transcript_time(value: Any) -> str:
    """A transcript line's time: local time when it is an ISO date, else as it came."""
    try:
        return local_time(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value or "")


def age(since: datetime, language: str) -> str:
    minutes = max(0, int((now() - since).total_seconds() // 60))
    if minutes < 60:
        return text("inbox_age_minutes", language, n=minutes)
    if minutes < 48 * 60:
        return text("inbox_age_hours", language, n=minutes // 60)
    return text("inbox_age_days", language, n=minutes // (24 * 60))


def partner_name(partner_id: str | None, language: str) -> str:
    partner = catalog().partners.get(partner_id or "")
    return partner.name[language] if partner else (partner_id or "")


def remembered_language(sessions, viewer: auth.SignedIn, lang: str | None) -> str:
    """The counsellor's language; ?lang= switches it and the account remembers it."""
    if lang not in LANGUAGES or lang == viewer.language:
        return viewer.language
    with sessions() as session:
        session.execute(update(Counsellor).where(Counsellor.id == viewer.id).values(language=lang))
        session.commit()
    return lang


def person_language(handoff: Handoff) -> str:
    """The language the person writes in: the conversation's, else the summary's."""
    language = handoff.conversation.language or handoff.summary.get("language")
    return language if language in LANGUAGES else "fr"


def visible(viewer: auth.SignedIn) -> ColumnElement[bool]:
    """The handoffs this viewer may see: its partner's, or every one for a coordinator."""
    return true() if viewer.is_coordinator else Handoff.partner_id == viewer.partner_id


def _display(value: Any, language: str) -> str:
    """A summary value as one line, whatever its shape: the summary comes from another process."""
    if isinstance(value, bool):
        return text("inbox_yes" if value else "inbox_no", language)
    if isinstance(value, dict):
        if language in value or "name" in value:
            return _display(value.get(language, value.get("name")), language)
        return " · ".join(filter(None, (_display(item, language) for item in value.values())))
    if isinstance(value, list | tuple):
        return ", ".join(filter(None, (_display(item, language) for item in value)))
    return "" if value is None else str(value)


def summary_text(summary: dict[str, Any], language: str) -> str:
    """The readable summary in the counsellor's language, else in the other one."""
    readable = summary.get("text")
    if isinstance(readable, dict) and language not in readable:
        readable = next(iter(readable.values()), "")
    return _display(readable, language)


def summary_fields(summary: dict[str, Any], language: str) -> list[tuple[str, str]]:
    """(label, value) for every summary field that holds something."""
    fields = []
    words = (summary.get("labels") or {}).get(language) or {}  # the builder's words, if any
    for name in SUMMARY_FIELDS:
        value = summary.get(name)
        is_partner = name == "partner" and isinstance(value, str)
        if isinstance(words.get(name), str):
            shown = words[name]
        else:
            shown = partner_name(value, language) if is_partner else _display(value, language)
        if shown:
            fields.append((text(f"inbox_field_{name}", language), shown))
    return fields


@dataclass(frozen=True)
class Row:
    """One handoff of the queue as the table shows it."""

    id: int
    reference: str
    priority: int
    priority_label: str
    partner: str
    language: str
    channel: str
    age: str
    status: str
    status_label: str
    claimed_by: str


def row(handoff: Handoff, language: str) -> Row:
    priority = min(max(handoff.priority, 0), 4)
    return Row(
        id=handoff.id,
        reference=handoff.reference,
        priority=priority,
        priority_label=text(f"inbox_priority_{priority}", language),
        partner=partner_name(handoff.partner_id, language),
        language=person_language(handoff),
        channel=handoff.conversation.channel,
        age=age(handoff.created_at, language),
        status=handoff.status,
        status_label=text(f"inbox_status_{handoff.status}", language),
        claimed_by=handoff.counsellor.display_name if handoff.counsellor else "",
    )


def queue(session: Session, viewer: auth.SignedIn, closed: bool) -> list[Handoff]:
    """Open handoffs, most urgent then oldest first; or the latest closed ones."""
    query = (
        select(Handoff)
        .options(joinedload(Handoff.conversation), joinedload(Handoff.counsellor))
        .where(visible(viewer))
    )
    if closed:
        query = (
            query.where(Handoff.status == "closed")
            .order_by(Handoff.closed_at.desc())
            .limit(CLOSED_SHOWN)
        )
    else:
        query = query.where(Handoff.status.in_(OPEN)).order_by(
            Handoff.priority, Handoff.created_at, Handoff.id
        )
    return list(session.scalars(query))


@dataclass(frozen=True)
class Line:
    """One message of a handoff's transcript."""

    kind: str  # person | bot | counsellor | system | other (for the style)
    author: str
    text: str
    at: str


def _kind(author: object) -> str:
    """The style of a line: one of the known authors, else "other"."""
    return author if author in AUTHORS else "other"


def transcript(session: Session, handoff: Handoff, language: str) -> list[Line]:
    """The transcript sent with the handoff, then everything said in the conversation since."""
    names = {author: text(f"inbox_author_{author}", language) for author in AUTHORS}
    lines = [
        Line(
            kind=_kind(entry.get("author")),
            author=names.get(entry.get("author"), str(entry.get("author", ""))),
            text=str(entry.get("text", "")),
            at=_transcript_time(entry.get("at")),
        )
        for entry in handoff.transcript
        if isinstance(entry, dict)
    ]
    since = session.execute(
        select(Message, Counsellor.display_name)
        .outerjoin(Counsellor, Message.counsellor_id == Counsellor.id)
        .where(
            Message.conversation_id == handoff.conversation_id,
            Message.created_at > handoff.created_at,
        )
        .order_by(Message.id)
    )
    lines += [
        Line(
            kind=_kind(message.author),
            author=counsellor or names.get(message.author, message.author),
            text=message.text,
            at=local_time(message.created_at),
        )
        for message, counsellor in since
    ]
    return lines


def audit(session: Session, viewer: auth.SignedIn, action: str, handoff: Handoff) -> None:
    session.add(AuditEntry(counsellor_id=viewer.id, action=action, handoff_id=handoff.id))


def audit_log(session: Session, language: str) -> list[dict[str, Any]]:
    """The latest audit entries: when, who, what, which handoff."""
    entries = session.execute(
        select(AuditEntry, Counsellor.display_name, Handoff.reference)
        .outerjoin(Counsellor, AuditEntry.counsellor_id == Counsellor.id)
        .outerjoin(Handoff, AuditEntry.handoff_id == Handoff.id)
        .order_by(AuditEntry.id.desc())
        .limit(AUDIT_SHOWN)
    )
    actions = page_texts(language)
    return [
        {
            "at": local_time(entry.at),
            "who": who or "",
            "action": actions.get(f"inbox_action_{entry.action}", entry.action),
            "reference": reference or "",
            "handoff_id": entry.handoff_id,
        }
        for entry, who, reference in entries
    ]


def claim_refusal(viewer: auth.SignedIn, handoff: Handoff) -> str | None:
    """Why this viewer cannot take the handoff (or take back one it handed to the bot)."""
    if handoff.status == "closed":
        return "closed"
    if handoff.status == "claimed":
        if handoff.claimed_by != viewer.id:
            return "claimed"
        if handoff.conversation.mode == "human":
            return "mine"
    return None


def act_refusal(viewer: auth.SignedIn, handoff: Handoff) -> str | None:
    """Only the counsellor who claimed an open handoff acts on it, or a coordinator."""
    if handoff.status == "closed":
        return "closed"
    if viewer.is_coordinator or handoff.claimed_by == viewer.id:
        return None
    return "not_yours"


def live_refusal(viewer: auth.SignedIn, handoff: Handoff) -> str | None:
    """Replying and handing back need the conversation live with the counsellor who claimed."""
    refusal = act_refusal(viewer, handoff)
    conversation = handoff.conversation
    live = (
        handoff.status == "claimed"
        and conversation.mode == "human"
        and conversation.owner_id == handoff.claimed_by
    )
    return refusal or (None if live else "not_live")


def _release(handoff: Handoff) -> None:
    """The conversation goes back to the bot, unless another counsellor holds it since."""
    conversation = handoff.conversation
    if conversation.owner_id in (None, handoff.claimed_by):
        conversation.mode = "bot"
        conversation.owner_id = None


def _tell_person(session: Session, handoff: Handoff, key: str, **values: object) -> None:
    language = person_language(handoff)
    relay.send_to_person(
        session, handoff.conversation, text(key, language, **values), author="system"
    )


def claim(session: Session, viewer: auth.SignedIn, handoff: Handoff) -> str | None:
    """Take the handoff: the person's messages now come to this counsellor."""
    refusal = claim_refusal(viewer, handoff)
    if refusal:
        return refusal
    # One conditional UPDATE, so that of two counsellors (or processes) claiming at once
    # exactly one wins.
    taken = session.execute(
        update(Handoff)
        .where(
            Handoff.id == handoff.id,
            (Handoff.status == "queued")
            | ((Handoff.status == "claimed") & (Handoff.claimed_by == viewer.id)),
        )
        .values(
            status="claimed",
            claimed_by=viewer.id,
            claimed_at=func.coalesce(Handoff.claimed_at, now()),
        )
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:
        return "claimed"
    session.refresh(handoff)
    handoff.conversation.mode = "human"
    handoff.conversation.owner_id = viewer.id
    language = person_language(handoff)
    _tell_person(
        session,
        handoff,
        "inbox_person_claimed",
        name=viewer.display_name,
        partner=partner_name(handoff.partner_id, language),
    )
    return None


def reply(
    session: Session, viewer: auth.SignedIn, handoff: Handoff, body: str, max_chars: int
) -> str | None:
    """The counsellor's answer, sent to the person on their channel."""
    refusal = live_refusal(viewer, handoff)
    if refusal:
        return refusal
    body = body.strip()
    if not 1 <= len(body) <= max_chars:
        return "reply_length"
    relay.send_to_person(
        session, handoff.conversation, body, author="counsellor", counsellor_id=viewer.id
    )
    return None


def hand_back(session: Session, viewer: auth.SignedIn, handoff: Handoff) -> str | None:
    """The bot takes the conversation again; the handoff stays claimed."""
    refusal = live_refusal(viewer, handoff)
    if refusal:
        return refusal
    _release(handoff)
    _tell_person(session, handoff, "inbox_person_handed_back")
    return None


def close(session: Session, viewer: auth.SignedIn, handoff: Handoff, outcome: str) -> str | None:
    """The handoff is done; the conversation goes back to the bot."""
    refusal = act_refusal(viewer, handoff) or (None if outcome in OUTCOMES else "outcome")
    if refusal:
        return refusal
    handoff.status = "closed"
    handoff.outcome = outcome
    handoff.closed_at = now()
    _release(handoff)
    _tell_person(session, handoff, "inbox_person_closed")
    return None


def handoff_context(
    session: Session, viewer: auth.SignedIn, handoff: Handoff, language: str
) -> dict[str, Any]:
    """Everything the handoff page shows, and which actions it offers this viewer."""
    return {
        "viewer": viewer,
        "csrf": viewer.csrf,
        "handoff": handoff,
        "row": row(handoff, language),
        "received": local_time(handoff.created_at),
        "summary": summary_text(handoff.summary, language),
        "fields": summary_fields(handoff.summary, language),
        "lines": transcript(session, handoff, language),
        "live": handoff.conversation.mode == "human",
        "can_claim": claim_refusal(viewer, handoff) is None,
        "can_reply": live_refusal(viewer, handoff) is None,
        "can_close": act_refusal(viewer, handoff) is None,
        "outcomes": OUTCOMES,
    }


@dataclass(frozen=True)
class Watermark:
    """What a browser has seen: the shape of its open queue and the newest person message."""

    queue: tuple[int, int, int]  # newest open handoff id, how many queued, how many claimed
    message_id: int  # newest message of a person in a conversation the viewer owns


def watermark(session: Session, viewer: auth.SignedIn) -> Watermark:
    newest, queued, claimed = session.execute(
        select(
            func.coalesce(func.max(Handoff.id), 0),
            func.count().filter(Handoff.status == "queued"),
            func.count().filter(Handoff.status == "claimed"),
        ).where(visible(viewer), Handoff.status.in_(OPEN))
    ).one()
    message_id = session.scalar(
        select(func.coalesce(func.max(Message.id), 0))
        .join(Conversation)
        .where(Message.author == "person", Conversation.owner_id == viewer.id)
    )
    return Watermark((newest, queued, claimed), message_id)


def changes(
    session: Session, viewer: auth.SignedIn, before: Watermark, after: Watermark
) -> list[ServerSentEvent]:
    """The events between two watermarks: "queue", and "conversation" with the handoff ids."""
    events = []
    if after.queue != before.queue:
        events.append(ServerSentEvent(event="queue", data={"newest": after.queue[0]}))
    if after.message_id > before.message_id:
        handoffs = session.scalars(
            select(Handoff.id)
            .distinct()
            .join(Conversation, Conversation.id == Handoff.conversation_id)
            .join(Message, Message.conversation_id == Handoff.conversation_id)
            .where(
                Message.id > before.message_id,
                Message.id <= after.message_id,
                Message.author == "person",
                Conversation.owner_id == viewer.id,
                Handoff.status != "closed",
            )
            .order_by(Handoff.id)
        )
        events.append(ServerSentEvent(event="conversation", data={"handoffs": list(handoffs)}))
    return events


def _look(
    sessions: sessionmaker[Session], token: str, before: Watermark | None
) -> tuple[Watermark, list[ServerSentEvent]] | None:
    """One poll; None once the login session has ended (logout, expiry, disabled account)."""
    with sessions() as session:
        viewer = auth.signed_in(session, token)
        session.commit()
        if viewer is None:
            return None
        mark = watermark(session, viewer)
        return mark, [] if before is None else changes(session, viewer, before, mark)


async def inbox_events(
    sessions: sessionmaker[Session],
    token: str,
    disconnected: Callable[[], Awaitable[bool]],
    interval: float,
) -> AsyncIterator[ServerSentEvent]:
    """The live updates of one browser, until it leaves or its login session ends.

    The first event is only a comment with the reconnection delay: once it is out, changes are
    measured from that moment.
    """
    mark: Watermark | None = None
    while True:
        look = await run_in_threadpool(_look, sessions, token, mark)
        if look is None:
            return
        if mark is None:
            yield ServerSentEvent(comment="connected", retry=RETRY_MS)
        mark, events = look
        for event in events:
            yield event
        await asyncio.sleep(interval)
        if await disconnected():
            return


def _back(handoff_id: int, error: str | None = None) -> RedirectResponse:
    """POST-redirect-GET to the handoff page, with the refusal to show if there was one."""
    suffix = f"?error={error}" if error else ""
    return RedirectResponse(f"/inbox/handoffs/{handoff_id}{suffix}", status_code=303)


def inbox_router(settings: Settings, sessions: sessionmaker[Session]) -> APIRouter:
    """The inbox's pages, actions and event stream, under /inbox."""
    router = APIRouter(prefix="/inbox", include_in_schema=False)
    guard = auth.Auth(sessions)
    Page = Annotated[auth.SignedIn, Depends(guard.current_counsellor)]
    Api = Annotated[auth.SignedIn, Depends(guard.current_counsellor_api)]
    Posted = Annotated[auth.SignedIn, Depends(guard.csrf_protected)]

    def page_language(viewer: Page, lang: str | None = None) -> str:
        return remembered_language(sessions, viewer, lang)

    Language = Annotated[str, Depends(page_language)]

    def render(request: Request, name: str, language: str, **context: Any) -> HTMLResponse:
        response = templates.TemplateResponse(
            request,
            f"inbox/{name}",
            {
                "lang": language,
                "other": "nl" if language == "fr" else "fr",
                "t": page_texts(language),
                "max_chars": settings.max_message_chars,
                **context,
            },
        )
        response.headers["Cache-Control"] = "no-store"  # personal data: not kept in caches
        response.headers["X-Frame-Options"] = "DENY"  # no clickjacking of the action buttons
        return response

    def visible_handoff(session: Session, viewer: auth.SignedIn, handoff_id: int) -> Handoff:
        handoff = session.scalar(select(Handoff).where(Handoff.id == handoff_id, visible(viewer)))
        if handoff is None:
            raise HTTPException(status_code=404)
        return handoff

    def act(
        viewer: auth.SignedIn,
        handoff_id: int,
        action: str,
        change: Callable[[Session, Handoff], str | None],
    ) -> RedirectResponse:
        """Apply one change to a visible handoff; audited and committed only if accepted."""
        with sessions() as session:
            handoff = visible_handoff(session, viewer, handoff_id)
            refusal = change(session, handoff)
            if refusal is None:
                audit(session, viewer, action, handoff)
                session.commit()
        return _back(handoff_id, refusal)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, lang: str | None = None, failed: bool = False):
        """The login form, with a fresh double-submit CSRF token (cookie and hidden field)."""
        if lang not in LANGUAGES:
            lang = language_from_header(request.headers.get("accept-language"))
        token = auth.new_token()
        response = render(request, "login.html", lang, csrf=token, failed=failed)
        auth.set_login_csrf_cookie(response, token, settings)
        return response

    @router.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=256)] = "",
        password: Annotated[str, Form(max_length=1024)] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> RedirectResponse:
        if not auth.login_csrf_ok(request, csrf):
            raise HTTPException(status_code=403, detail="CSRF token missing or wrong")
        with sessions() as session:
            counsellor = auth.login(session, username, password, settings)
            token = auth.open_session(session, counsellor, settings) if counsellor else None
            session.commit()
        if token is None:
            return RedirectResponse(f"{auth.LOGIN_PATH}?failed=1", status_code=303)
        response = RedirectResponse("/inbox", status_code=303)
        auth.set_session_cookie(response, token, settings)
        auth.clear_cookie(response, auth.LOGIN_CSRF_COOKIE, settings)
        return response

    @router.post("/logout")
    def logout(viewer: Posted) -> RedirectResponse:
        with sessions() as session:
            auth.close_session(session, viewer.token)
            session.commit()
        response = RedirectResponse(auth.LOGIN_PATH, status_code=303)
        auth.clear_cookie(response, auth.SESSION_COOKIE, settings)
        return response

    def queue_context(viewer: auth.SignedIn, language: str, closed: bool) -> dict[str, Any]:
        with sessions() as session:
            rows = [row(handoff, language) for handoff in queue(session, viewer, closed)]
        return {"viewer": viewer, "rows": rows, "closed": closed}

    @router.get("", response_class=HTMLResponse)
    def queue_page(request: Request, viewer: Page, language: Language, closed: bool = False):
        return render(request, "queue.html", language, **queue_context(viewer, language, closed))

    @router.get("/queue", response_class=HTMLResponse)
    def queue_fragment(request: Request, viewer: Api, closed: bool = False):
        """The queue table alone, fetched again by inbox.js when the queue changes."""
        context = queue_context(viewer, viewer.language, closed)
        return render(request, "_queue.html", viewer.language, **context)

    def read(
        viewer: auth.SignedIn,
        handoff_id: int,
        context: Callable[[Session, Handoff], dict[str, Any]],
    ) -> dict[str, Any]:
        """What a page shows of a visible handoff; every read is audited."""
        with sessions() as session:
            handoff = visible_handoff(session, viewer, handoff_id)
            audit(session, viewer, "read", handoff)
            session.commit()
            return context(session, handoff)

    @router.get("/handoffs/{handoff_id}", response_class=HTMLResponse)
    def handoff_page(
        request: Request,
        handoff_id: int,
        viewer: Page,
        language: Language,
        error: str | None = None,
    ):
        context = read(viewer, handoff_id, lambda s, h: handoff_context(s, viewer, h, language))
        shown_error = error if error in ERRORS else None
        return render(request, "handoff.html", language, error=shown_error, **context)

    @router.get("/handoffs/{handoff_id}/transcript", response_class=HTMLResponse)
    def transcript_fragment(request: Request, handoff_id: int, viewer: Api):
        """The transcript alone, fetched again by inbox.js when the person writes."""
        language = viewer.language
        context = read(viewer, handoff_id, lambda s, h: {"lines": transcript(s, h, language)})
        return render(request, "_transcript.html", language, **context)

    @router.post("/handoffs/{handoff_id}/claim")
    def claim_handoff(handoff_id: int, viewer: Posted) -> RedirectResponse:
        return act(viewer, handoff_id, "claim", lambda s, h: claim(s, viewer, h))

    @router.post("/handoffs/{handoff_id}/reply")
    def reply_to_person(
        handoff_id: int, viewer: Posted, body: Annotated[str, Form(alias="text")] = ""
    ) -> RedirectResponse:
        return act(
            viewer,
            handoff_id,
            "reply",
            lambda s, h: reply(s, viewer, h, body, settings.max_message_chars),
        )

    @router.post("/handoffs/{handoff_id}/hand-back")
    def hand_back_to_bot(handoff_id: int, viewer: Posted) -> RedirectResponse:
        return act(viewer, handoff_id, "hand_back", lambda s, h: hand_back(s, viewer, h))

    @router.post("/handoffs/{handoff_id}/close")
    def close_handoff(
        handoff_id: int, viewer: Posted, outcome: Annotated[str, Form()] = ""
    ) -> RedirectResponse:
        return act(viewer, handoff_id, "close", lambda s, h: close(s, viewer, h, outcome))

    @router.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, viewer: Page, language: Language):
        """The latest audit entries; coordinators only (anyone else gets a 404)."""
        if not viewer.is_coordinator:
            raise HTTPException(status_code=404)
        with sessions() as session:
            entries = audit_log(session, language)
        return render(request, "audit.html", language, viewer=viewer, entries=entries)

    @router.get("/events", response_class=EventSourceResponse)
    async def events(request: Request, viewer: Api) -> AsyncIterator[ServerSentEvent]:
        """Server-sent events: "queue" when the open queue changes, "conversation" when a
        person writes in a conversation this counsellor owns."""
        async for event in inbox_events(
            sessions, viewer.token, request.is_disconnected, POLL_SECONDS
        ):
            yield event

    return router
