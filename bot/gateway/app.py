"""FastAPI application: the web chat and its JSON API, the handoff API, the counsellor inbox.

Every web-chat message is stored on its conversation; while a counsellor owns the conversation
the bot is not asked (the relay), otherwise the message goes to Rasa's REST channel.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bot.gateway import relay
from bot.gateway.channels import ChannelHub
from bot.gateway.data_copy import data_copy_router
from bot.gateway.handoffs import handoffs_router
from bot.gateway.inbound import Conversations, web_inbound
from bot.gateway.inbox import inbox_router
from bot.gateway.outbox import Outbox
from bot.gateway.privacy import purge_every
from bot.gateway.rasa_client import EngineUnavailable, RasaClient
from bot.gateway.report_pages import report_router
from bot.gateway.security import install_security
from bot.gateway.store.db import make_engine, migrate, session_factory
from bot.gateway.store.models import Conversation
from bot.gateway.texts import (
    LANGUAGES,
    Refused,
    all_texts,
    error_response,
    language_from_header,
    text,
)
from bot.settings import Settings, get_settings
from connectors.base import valid_text
from connectors.webchat import ASSETS as WIDGET

logger = logging.getLogger("relais.gateway")
_HERE = Path(__file__).parent
templates = Jinja2Templates(directory=_HERE / "templates")


def _valid_if_text(value: object) -> object:
    """Half an emoji becomes U+FFFD (connectors.base.valid_text); other types fail as usual."""
    return valid_text(value) if isinstance(value, str) else value


class ChatMessage(BaseModel):
    """One message typed (or a button pressed) in the web chat."""

    model_config = ConfigDict(extra="forbid")

    sender_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    text: Annotated[str, BeforeValidator(_valid_if_text), Field(max_length=100_000)]
    language: Literal["fr", "nl"] | None = None
    # The page's id for this message: a retry after a network error is recognised, not re-sent.
    client_id: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")] = None


def strings(language: str) -> dict[str, str]:
    return {key: value[language] for key, value in all_texts().items()}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    migrate(settings.database)
    sessions = session_factory(make_engine(settings.database))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        workers = [
            asyncio.create_task(outbox.run()),
            asyncio.create_task(conversations.retry_pending()),
            asyncio.create_task(purge_every(sessions, tracker, settings)),
        ]
        hub.start()
        # What the gateway holds from its start (~150 000 objects) is left out of Python's full
        # garbage collections, which went through it all: 90-180 ms of a stopped gateway each,
        # webhooks waiting (gc.callbacks under `make bench`). Given back at shutdown: tests
        # start many apps in one process.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
        for worker in workers:
            worker.cancel()
        await hub.close()
        await outbox.close()
        await rasa.close()
        tracker.dispose()

    rasa = RasaClient(settings.rasa_base_urls, settings.rasa_timeout_s)
    tracker = make_engine(settings.tracker_url)
    conversations = Conversations(settings, sessions, rasa, tracker)
    hub = ChannelHub(settings, sessions, conversations)
    outbox = Outbox(settings, sessions, channel_sender=hub.deliver)

    # No interactive API pages in production: the schema stays at /openapi.json (fuzzing uses it).
    app = FastAPI(title="Relais gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.sessions = sessions
    app.state.conversations = conversations
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    # Partner sites embed the widget: its API answers any origin (no cookies are involved).
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.widget_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
    app.include_router(handoffs_router(settings, sessions))
    app.include_router(data_copy_router(settings, sessions, tracker))
    app.include_router(inbox_router(settings, sessions))
    app.include_router(report_router(settings, sessions))
    app.include_router(hub.router())

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """Malformed JSON or fields: a clear 422, never the parser's internals."""
        return error_response(422, "error_bad_request")

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return error_response(exc.status, exc.key)

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    def page_language(request: Request, lang: str | None) -> str:
        if lang in LANGUAGES:
            return lang
        return language_from_header(request.headers.get("accept-language"))

    @app.get("/", response_class=HTMLResponse)
    async def chat_page(request: Request, lang: str | None = None) -> HTMLResponse:
        """The chat full page (the widget in page mode), in the language asked or the browser's."""
        language = page_language(request, lang)
        context = {"lang": language, "t": strings(language)}
        return templates.TemplateResponse(request, "chat.html", context)

    @app.get("/privacy", response_class=HTMLResponse)
    async def privacy_page(request: Request, lang: str | None = None) -> HTMLResponse:
        """What Relais keeps, why, how long, who sees it, and how to erase it."""
        language = page_language(request, lang)
        context = {"lang": language, "t": strings(language), "days": settings.retention_days}
        return templates.TemplateResponse(request, "privacy.html", context)

    @app.get("/demo", response_class=HTMLResponse)
    async def demo_page(request: Request, lang: str | None = None) -> HTMLResponse:
        """A partner's page with the widget embedded by its one tag."""
        language = page_language(request, lang)
        base = str(request.base_url).rstrip("/")
        context = {"lang": language, "t": strings(language), "base": base}
        return templates.TemplateResponse(request, "demo.html", context)

    @app.get("/widget.js", include_in_schema=False)
    async def widget_script() -> FileResponse:
        return FileResponse(WIDGET / "widget.js", media_type="text/javascript")

    @app.get("/widget.css", include_in_schema=False)
    async def widget_styles() -> FileResponse:
        return FileResponse(WIDGET / "widget.css", media_type="text/css")

    @app.get("/api/widget/config")
    async def widget_config() -> dict:
        """The widget's words in both languages (it switches without reloading), and limits."""
        return {
            "texts": {language: strings(language) for language in LANGUAGES},
            "max_chars": settings.max_message_chars,
            "retention_days": settings.retention_days,
        }

    @app.post("/api/chat")
    async def chat(message: ChatMessage, request: Request) -> JSONResponse:
        """Store one message, then answer it: the bot, or nothing while a counsellor owns the
        conversation (the counsellor's replies come through /api/chat/messages)."""
        body = message.text.strip()
        if not body:
            return error_response(422, "error_empty", message.language)
        if len(body) > settings.max_message_chars:
            return error_response(
                413, "error_too_long", message.language, max=settings.max_message_chars
            )
        inbound = web_inbound(message.sender_id, body, message.language, message.client_id)
        delivery = conversations.accept(inbound, take=True)
        if delivery is None:  # the same message sent twice (a retry after a network error)
            return JSONResponse({"messages": [], "mode": "bot", "duplicate": True})
        try:
            mode, answers = await conversations.process(delivery)
        except EngineUnavailable as error:
            logger.warning("engine unavailable: %s", error)
            return JSONResponse(
                status_code=503,
                content={
                    "error": "engine_down",
                    "messages": [{"text": text("engine_down", message.language or "fr")}],
                },
            )
        last_id = answers[-1]["id"] if answers else None
        return JSONResponse({"messages": answers, "mode": mode, "last_id": last_id})

    @app.get("/api/chat/messages")
    async def chat_messages(
        sender_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{8,64}$")],
        after: Annotated[int, Query(ge=0)] = 0,
    ) -> JSONResponse:
        """What the conversation holds after message `after`: counsellor replies, and the whole
        history when the page reloads (after=0). The random sender id is the key to it."""
        with sessions() as session:
            conversation = session.get(Conversation, f"web:{sender_id}")
            found = relay.messages_after(session, f"web:{sender_id}", after) if conversation else []
            return JSONResponse(
                {
                    "mode": conversation.mode if conversation else "bot",
                    "messages": [
                        {
                            "id": m.id,
                            "author": m.author,
                            "text": m.text,
                            **({"buttons": m.buttons} if m.buttons else {}),
                        }
                        for m in found
                    ],
                }
            )

    install_security(app, settings)  # last: its headers wrap every other layer
    return app
