"""The gateway's outer defences: security headers, body size limits, strict content types and
rate limits, applied to every request before any route sees it.

Two ASGI middlewares, installed by `install_security(app, settings)`:

- `SecurityHeaders`, outermost: every response, refusals and errors included, carries the
  headers; documents get the strict Content-Security-Policy. The widget's assets and API are
  loaded by partner sites from their own origin: they get no CSP and no framing rule.
- `RequestGuard`, innermost (inside CORS, so a partner page can read a 429): refuses a body
  too large (413, from Content-Length or while reading, never reading past the limit), a
  wrong content type (415) and a client over its rate (429 with Retry-After). Refusals are
  bilingual and never echo what was sent.

Rate limits are token buckets in this process (`TokenBuckets`); several gateways behind a load
balancer need them at the proxy or in shared state (Redis), behind the same `RateLimiter`
interface. Telegram and Meta deliver every person's messages from a few shared addresses, so
webhooks (and the token-protected internal API) count only the requests they refuse: a flood of
forged deliveries is cut off, the real channel never is.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import FastAPI, Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.gateway.texts import both, error_response
from bot.settings import Settings

MAX_TRACKED_KEYS = 100_000  # buckets kept in memory; the least recently used go first

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PERMISSIONS_POLICY = "camera=(), geolocation=(), microphone=(), payment=(), usb=()"
HSTS = "max-age=31536000"
# The widget, loaded by partner sites from their own origin: no CSP or framing rule of ours
# applies there. Its API is the only public one; every other /api route needs the shared token.
WIDGET_ASSETS = ("/widget.js", "/widget.css")
WIDGET_API = ("/api/chat", "/api/widget/")
CHAT_PATH = "/api/chat"
LOGIN_PATH = "/inbox/login"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BODY_METHODS = ("POST", "PUT", "PATCH")


@dataclass(frozen=True)
class Limits:
    """How much one client may send, and how fast."""

    body_bytes: int  # the chat, the inbox forms: a message is at most a few KiB
    webhook_body_bytes: int  # Telegram and Meta may batch several events
    internal_body_bytes: int  # a handoff carries up to 200 transcript lines
    sender_per_minute: int  # web-chat messages of one sender id
    ip_per_minute: int  # requests of one address (a partner's office may share one)
    login_per_minute: int  # inbox sign-in attempts of one address (accounts also lock)


def limits_of(settings: Settings) -> Limits:
    return Limits(
        body_bytes=settings.max_body_bytes,
        webhook_body_bytes=settings.max_webhook_body_bytes,
        internal_body_bytes=settings.max_internal_body_bytes,
        sender_per_minute=settings.rate_sender_per_minute,
        ip_per_minute=settings.rate_ip_per_minute,
        login_per_minute=settings.rate_login_per_minute,
    )


class RateLimiter(Protocol):
    """What the guard needs of a rate limiter; per_minute is also the allowed burst."""

    def take(self, key: str, per_minute: int) -> float:
        """Spend one request: 0 when allowed, else the seconds to wait (nothing spent)."""

    def wait(self, key: str, per_minute: int) -> float:
        """The seconds before one request would be allowed, spending nothing."""


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """In-memory token buckets for one process, on one event loop (no awaits inside)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_TRACKED_KEYS
    ) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self.buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _refilled(self, key: str, per_minute: int) -> _Bucket:
        now = self.clock()
        bucket = self.buckets.pop(key, None) or _Bucket(per_minute, now)
        bucket.tokens = min(per_minute, bucket.tokens + (now - bucket.at) * per_minute / 60)
        bucket.at = now
        self.buckets[key] = bucket  # now the most recently used
        self._forget(now)
        return bucket

    def _forget(self, now: float) -> None:
        """Drop the least recently used buckets that a minute has filled again, and any
        beyond max_keys (an attacker's many addresses cannot fill the memory)."""
        while self.buckets:
            key, oldest = next(iter(self.buckets.items()))
            if len(self.buckets) <= self.max_keys and now - oldest.at < 60:
                return
            del self.buckets[key]

    def take(self, key: str, per_minute: int) -> float:
        bucket = self._refilled(key, per_minute)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) * 60 / per_minute

    def wait(self, key: str, per_minute: int) -> float:
        bucket = self._refilled(key, per_minute)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) * 60 / per_minute


@dataclass
class Security:
    """The guard's configuration, kept on app.state.security."""

    limits: Limits
    limiter: RateLimiter


def _is_widget(path: str) -> bool:
    return path in WIDGET_ASSETS or path.startswith(WIDGET_API)


def security_headers(scope: Scope) -> dict[str, str]:
    """The headers of a response to this request."""
    path = scope["path"]
    headers = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    if not _is_widget(path):
        headers |= {
            "Content-Security-Policy": CSP,
            "X-Frame-Options": "DENY",
            "Permissions-Policy": PERMISSIONS_POLICY,
        }
    if path.startswith(("/api/", "/webhooks/")):
        headers["Cache-Control"] = "no-store"  # conversations are personal data
    if scope.get("scheme") == "https":
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeaders:
    """Sets the security headers on every response that passes through (they win)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in security_headers(scope).items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def refusal(scope: Scope, status: int, key: str, **values: object) -> Response:
    """A refusal in both languages: JSON for the APIs, plain text for the inbox's forms."""
    headers = {"Retry-After": str(values["seconds"])} if "seconds" in values else None
    if scope["path"].startswith("/inbox"):
        message = both(key, **values)
        words = f"{message['fr']}\n\n{message['nl']}\n"
        return PlainTextResponse(words, status_code=status, headers=headers)
    return error_response(status, key, headers=headers, **values)


async def server_error(request: Request, exc: Exception) -> Response:
    """An unexpected failure: the engine-down answer (with the help numbers), never the
    traceback. Starlette answers it outside every middleware, so the headers are set here."""
    response = refusal(request.scope, 500, "engine_down")
    response.headers.update(security_headers(request.scope))
    return response


def _client(scope: Scope) -> str:
    """The client's address; behind a proxy, uvicorn's --forwarded-allow-ips makes it real."""
    client = scope.get("client")
    return client[0] if client else "unknown"


def _sender_id(body: bytes) -> str | None:
    """The web chat's sender id, when the body is a JSON object that has one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    sender = data.get("sender_id") if isinstance(data, dict) else None
    return sender if isinstance(sender, str) else None


class _TooLarge(Exception):
    """The body went over its limit while being read: answered 413, the rest never read."""


class _Disconnected(Exception):
    """The client went away while its body was being read: nothing to answer."""


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, refused as soon as it grows past the limit."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then waits on the client (disconnects)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


@dataclass(frozen=True)
class Rules:
    """What the guard applies to one request, from its path and method."""

    body_limit: int
    content_type: str | None  # required media type of a body, if any
    rate: tuple[str, int] | None  # (bucket key, per minute)
    failures_only: bool  # only refused requests spend from the bucket


def rules_for(scope: Scope, limits: Limits) -> Rules:
    path, client = scope["path"], _client(scope)
    with_body = scope["method"] in BODY_METHODS
    json_body = JSON if with_body else None
    per_address = (f"ip:{client}", limits.ip_per_minute)
    if path.startswith(WIDGET_API):
        return Rules(limits.body_bytes, json_body, per_address, False)
    if path.startswith("/api/"):  # the internal API: only refused calls spend
        return Rules(limits.internal_body_bytes, json_body, per_address, True)
    if path.startswith("/webhooks/"):
        return Rules(limits.webhook_body_bytes, json_body, per_address, True)
    if path.startswith("/inbox/") and with_body:
        login = (f"login:{client}", limits.login_per_minute) if path == LOGIN_PATH else None
        return Rules(limits.body_bytes, FORM, login, False)
    return Rules(limits.body_bytes, None, None, False)


def _media_type(headers: Headers) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


class RequestGuard:
    """Body size, content type and rate limits, before the application reads anything."""

    def __init__(self, app: ASGIApp, security: Security) -> None:
        self.app = app
        self.security = security

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits, limiter = self.security.limits, self.security.limiter
        rules = rules_for(scope, limits)
        headers = Headers(scope=scope)
        refused = self._precheck(scope, headers, rules)
        if refused is None and scope["method"] in BODY_METHODS:
            try:
                body = await _read_body(receive, rules.body_limit)
            except _TooLarge:
                refused = self._too_large(scope, rules)
            except _Disconnected:
                return
            else:
                receive = _replay(body, receive)
                if scope["path"] == CHAT_PATH and (sender := _sender_id(body)):
                    wait = limiter.take(f"sender:{sender}", limits.sender_per_minute)
                    refused = self._too_many(scope, wait) if wait else None
        if refused is not None:
            if rules.rate and rules.failures_only:
                limiter.take(*rules.rate)
            await refused(scope, receive, send)
            return
        if rules.rate and rules.failures_only:
            send = self._counting_failures(send, rules.rate)
        await self.app(scope, receive, send)

    def _precheck(self, scope: Scope, headers: Headers, rules: Rules) -> Response | None:
        """What can be refused from the request line and headers alone."""
        limiter = self.security.limiter
        if rules.rate:
            check = limiter.wait if rules.failures_only else limiter.take
            if wait := check(*rules.rate):
                return self._too_many(scope, wait)
        if rules.content_type and _media_type(headers) != rules.content_type:
            return refusal(scope, 415, "security_unsupported_type", expected=rules.content_type)
        length = headers.get("content-length")
        if length is not None and not length.isdigit():
            return refusal(scope, 400, "error_bad_request")
        if length is not None and int(length) > rules.body_limit:
            return self._too_large(scope, rules)
        return None

    @staticmethod
    def _too_large(scope: Scope, rules: Rules) -> Response:
        return refusal(scope, 413, "security_too_large", kib=rules.body_limit // 1024)

    @staticmethod
    def _too_many(scope: Scope, wait: float) -> Response:
        return refusal(scope, 429, "security_rate_limited", seconds=_seconds(wait))

    def _counting_failures(self, send: Send, rate: tuple[str, int]) -> Send:
        """A send that spends from the address's bucket when the answer is a refusal (4xx)."""

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start" and 400 <= message["status"] < 500:
                self.security.limiter.take(*rate)
            await send(message)

        return counted


def install_security(
    app: FastAPI,
    settings: Settings,
    limits: Limits | None = None,
    limiter: RateLimiter | None = None,
) -> Security:
    """Add the headers, the guard and the generic 500 to the gateway; call it last in
    create_app, so that the headers wrap everything and the guard sits inside CORS.

    The limits come from the settings unless given. Calling it again on the same app only
    replaces the limits and the limiter (tests do)."""
    security = Security(limits or limits_of(settings), limiter or TokenBuckets())
    installed = getattr(app.state, "security", None)
    if installed is not None:
        installed.limits, installed.limiter = security.limits, security.limiter
        return installed
    app.state.security = security
    app.add_middleware(SecurityHeaders)
    # Innermost (add_middleware would put it outside CORS): appended, not inserted.
    app.user_middleware.append(Middleware(RequestGuard, security=security))
    app.add_exception_handler(Exception, server_error)
    return security
