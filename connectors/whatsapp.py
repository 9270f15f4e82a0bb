"""WhatsApp Cloud API: signed webhook events in, Graph API messages out.

Meta signs each delivery with the app secret over the exact body bytes; the verify token only
guards the subscription handshake. Outside the 24-hour customer-service window (counted from
the person's last message) only an approved template may be sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx

from bot.settings import Settings
from connectors.base import (
    Forged,
    Inbound,
    Malformed,
    Message,
    SendFailed,
    button_ref,
    numbered_fallback,
    retry_after,
    split_text,
)
from connectors.pacing import Pacer

logger = logging.getLogger("relais.whatsapp")

SIGNATURE_HEADER = "x-hub-signature-256"
TEXT_LIMIT = 4096
BODY_LIMIT = 1024  # the text above interactive buttons or a list
REPLY_BUTTONS = 3
LIST_ROWS = 10
LIST_LABEL = {"fr": "Choisir", "nl": "Kiezen"}
WINDOW_CLOSED = 131047  # "Re-engagement message": more than 24 hours since the person wrote
# Graph errors that pass with time (rate limits, "try again later"), whatever the HTTP status.
TRANSIENT = {4, 80007, 130429, 131000, 131016, 131048, 131056, 133004}
INVALID_TOKEN = 190  # our configuration, not the message: retry while someone fixes it
IGNORED_TYPES = {"system", "ephemeral"}  # number changes, disappearing-message notices

T = TypeVar("T")


class WindowClosed(SendFailed):
    """Meta refused a free-form message outside the 24-hour window: send_template instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}: outside the 24-hour customer-service window", permanent=True)


def _get(data: Any, key: str, kind: type[T], default: T | None = None) -> T:
    """data[key] when it has the expected type; the default when absent; else Malformed."""
    value = data.get(key, default) if isinstance(data, dict) else None
    if not isinstance(value, kind):
        raise Malformed(f"{key}: expected {kind.__name__}")
    return value


def _cut(text: str, limit: int) -> tuple[str, str]:
    """At most limit characters, cut at a space when there is one, and what is left."""
    if len(text) <= limit:
        return text, ""
    cut = text.rfind(" ", 1, limit + 1)
    cut = cut if cut > 0 else limit
    return text[:cut].rstrip(), text[cut:].strip()


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else _cut(text, limit - 1)[0] + "…"


def _error_code(response: httpx.Response) -> int | None:
    """The Graph error code of {"error": {"code": ..., "message": ...}}, if there is one."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


class WhatsAppChannel:
    name = "whatsapp"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(
            base_url=settings.whatsapp_api_url,
            headers={"Authorization": f"Bearer {settings.whatsapp_token}"},
            timeout=10,
        )
        # Meta's pair rate limit (one message every 6 s to a person, bursts of up to 45) and the
        # number's throughput (80 a second by default).
        self.pacer = Pacer(
            settings.whatsapp_chat_interval_s,
            settings.whatsapp_per_s,
            burst=settings.whatsapp_chat_burst,
        )

    @staticmethod
    def configured(settings: Settings) -> bool:
        """Every secret the channel needs in and out; without one it stays off."""
        return all(
            (
                settings.whatsapp_token,
                settings.whatsapp_app_secret,
                settings.whatsapp_verify_token,
                settings.whatsapp_phone_number_id,
            )
        )

    def verify_subscription(self, params: Mapping[str, str]) -> str:
        """The GET handshake Meta makes when the webhook URL is saved: echo the challenge."""
        expected = self.settings.whatsapp_verify_token
        given = params.get("hub.verify_token", "")
        if (
            params.get("hub.mode") != "subscribe"
            or not expected
            or not hmac.compare_digest(given.encode(), expected.encode())
        ):
            raise Forged("wrong WhatsApp verify token")
        return params.get("hub.challenge", "")

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[Inbound]:
        """Messages of a signed delivery; statuses are ignored, except failures (Meta may accept a
        message and report later that it could not be delivered): those come back as Inbound
        with metadata["delivery_failed"], so the counsellor is told."""
        secret = self.settings.whatsapp_app_secret
        given = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), "")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not secret or not hmac.compare_digest(given.encode(), expected.encode()):
            raise Forged("missing or wrong WhatsApp signature")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
            raise Malformed("the body is not JSON") from error
        inbounds = []
        for entry in _get(data, "entry", list):
            for change in _get(entry, "changes", list):
                value = _get(change, "value", dict)
                ours = self.settings.whatsapp_phone_number_id
                number = _get(value, "metadata", dict, {}).get("phone_number_id", ours)
                if _get(change, "field", str) != "messages" or number != ours:
                    continue  # another subscription, or another number of the same account
                inbounds += [self._failure(s) for s in _get(value, "statuses", list, [])]
                inbounds += [self._inbound(m) for m in _get(value, "messages", list, [])]
        return [inbound for inbound in inbounds if inbound]

    def _inbound(self, message: Any) -> Inbound | None:
        kind = _get(message, "type", str)
        user_id, event_id = _get(message, "from", str), _get(message, "id", str)
        timestamp = _get(message, "timestamp", str)
        if not timestamp.isascii() or not timestamp.isdigit():
            raise Malformed("timestamp: expected seconds")
        if kind in IGNORED_TYPES:
            return None
        text: str | None = None
        if kind == "text":
            text = _get(_get(message, "text", dict), "body", str)
        elif kind == "interactive":
            interactive = _get(message, "interactive", dict)
            reply_kind = _get(interactive, "type", str)
            if reply_kind in ("button_reply", "list_reply"):
                text = _get(_get(interactive, reply_kind, dict), "id", str)  # a button_ref
        elif kind == "button":  # a template's quick-reply button: what it says
            text = _get(_get(message, "button", dict), "text", str)
        elif kind == "audio" and _get(message, "audio", dict, {}).get("voice") is True:
            kind = "voice"
        metadata = {"timestamp": int(timestamp)}  # the 24-hour window starts here
        if text is not None:
            return Inbound(self.name, user_id, event_id, text, metadata=metadata)
        return Inbound(self.name, user_id, event_id, None, unsupported=kind, metadata=metadata)

    def _failure(self, status: Any) -> Inbound | None:
        """A message Meta accepted, then failed to deliver (131047: the 24-hour window)."""
        if _get(status, "status", str) != "failed":
            return None
        errors = _get(status, "errors", list, [])
        codes = [
            e["code"] for e in errors if isinstance(e, dict) and isinstance(e.get("code"), int)
        ]
        message_id = _get(status, "id", str)
        logger.warning("message %s not delivered: errors %s", message_id, codes)
        return Inbound(
            self.name,
            _get(status, "recipient_id", str),
            f"{message_id}:failed",
            None,
            metadata={"delivery_failed": codes},
        )

    def _envelope(self, user_id: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
        return {"messaging_product": "whatsapp", "to": user_id, "type": kind, kind: content}

    def _interactive(self, message: Message, language: str) -> dict[str, Any] | None:
        """Reply buttons (at most 3, titles cut to 20) or a list (at most 10 rows, titles of 24
        with the rest below), when the text fits above them; None when neither fits."""
        text, buttons = message.get("text") or "", message.get("buttons") or []
        if not buttons or not text or len(text) > BODY_LIMIT or len(buttons) > LIST_ROWS:
            return None
        refs = [button_ref(message["id"], i) for i in range(1, len(buttons) + 1)]
        titles = [_shorten(b["title"], 20) for b in buttons]
        if len(buttons) <= REPLY_BUTTONS and len(set(titles)) == len(titles):  # titles must differ
            replies = zip(refs, titles, strict=True)
            action: dict[str, Any] = {
                "buttons": [{"type": "reply", "reply": {"id": r, "title": t}} for r, t in replies]
            }
            return {"type": "button", "body": {"text": text}, "action": action}
        rows = []
        for ref, button in zip(refs, buttons, strict=True):
            title, rest = _cut(button["title"], 24)
            rows.append(
                {"id": ref, "title": title, **({"description": _shorten(rest, 72)} if rest else {})}
            )
        action = {"button": LIST_LABEL[language], "sections": [{"rows": rows}]}
        return {"type": "list", "body": {"text": text}, "action": action}

    def _payloads(self, user_id: str, message: Message, language: str) -> list[dict[str, Any]]:
        """The interactive message when there is one, else text (buttons numbered, never lost)."""
        if interactive := self._interactive(message, language):
            return [self._envelope(user_id, "interactive", interactive)]
        text = numbered_fallback(message, language) or ""  # a message may have no text
        return [self._envelope(user_id, "text", {"body": p}) for p in split_text(text, TEXT_LIMIT)]

    async def _post(self, payload: dict[str, Any]) -> None:
        path = f"/{self.settings.whatsapp_phone_number_id}/messages"
        await self.pacer.wait(payload["to"])
        try:
            response = await self.http.post(path, json=payload)
        except httpx.HTTPError as error:
            raise SendFailed(f"WhatsApp unreachable: {type(error).__name__}") from error
        if response.is_success:
            return
        status, code = response.status_code, _error_code(response)
        reason = f"WhatsApp HTTP {status}, error {code}"
        if code == WINDOW_CLOSED:
            raise WindowClosed(reason)
        if status == 429 or code in TRANSIENT:
            raise SendFailed(reason, retry_after=retry_after(response.headers))
        permanent = 400 <= status < 500 and status != 401 and code != INVALID_TOKEN
        raise SendFailed(reason, permanent=permanent)

    async def send(self, user_id: str, messages: list[Message], language: str) -> None:
        """Each message in order; SendFailed says whether retrying can help."""
        for message in messages:
            for payload in self._payloads(user_id, message, language):
                await self._post(payload)

    async def send_template(self, user_id: str, language: str) -> None:
        """The approved template that asks the person to write back, reopening the window."""
        name = self.settings.whatsapp_template
        if not name:
            raise SendFailed(
                "outside the 24-hour window and no template configured", permanent=True
            )
        template = {"name": name, "language": {"code": language}}
        await self._post(self._envelope(user_id, "template", template))

    async def close(self) -> None:
        await self.http.aclose()
