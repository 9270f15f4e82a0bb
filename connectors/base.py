"""The one interface every channel adapter implements.

Inbound: the channel's raw webhook (bytes and headers, so signatures are checked on the exact
bytes) becomes a list of `Inbound` events. Outbound: the bot's or a counsellor's messages
(`{"text", "buttons": [{"title", "payload"}]}`, as Rasa's REST channel returns them) become the
channel's own API calls, with a numbered text fallback where buttons are not possible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class Forged(Exception):
    """The request is not from the channel (bad secret or signature): answer 401/403, drop it."""


class Malformed(Exception):
    """The request is from nowhere we understand (bad JSON, missing fields): answer 400."""


class SendFailed(Exception):
    """The channel's API refused or failed; retry_after (seconds) when it said when to retry."""

    def __init__(self, reason: str, retry_after: float | None = None, permanent: bool = False):
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent  # e.g. WhatsApp's 24-hour window closed: retrying won't help


@dataclass(frozen=True)
class Inbound:
    channel: str  # telegram | whatsapp | web
    user_id: str  # the channel's id of the person (chat id, phone-number id)
    event_id: str  # the channel's id of this delivery: duplicates carry the same one
    text: str | None  # typed text or a button's payload; None for unsupported content
    language_hint: str | None = None  # fr | nl from the channel (Telegram language_code)
    unsupported: str | None = None  # voice, image, sticker, file, location... when text is None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("user_id", "event_id", "text"):
            if isinstance(value := getattr(self, name), str):
                object.__setattr__(self, name, valid_text(value))

    @property
    def conversation_id(self) -> str:
        """Rasa's sender id and the gateway's conversation id."""
        return f"{self.channel}:{self.user_id}"


Message = dict[str, Any]


def valid_text(text: str) -> str:
    """The text with any lone UTF-16 surrogate (half an emoji, which JSON's \\ud83d escapes can
    carry) replaced by U+FFFD: no database or channel API can store or send it, and the rest of
    the message must not be lost for it."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class Channel(Protocol):
    name: str

    def parse(self, body: bytes, headers: dict[str, str]) -> list[Inbound]:
        """Check authenticity (raise Forged) and shape (raise Malformed); ignore status updates."""

    async def send(self, user_id: str, messages: list[Message], language: str) -> None:
        """Deliver messages in order; raise SendFailed (with retry_after on 429).

        Each message: {"id": stored message id, "text": str, "buttons": [{"title", "payload"}]}.
        A button carries button_ref(id, index) back, never the payload itself.
        """


def numbered_fallback(message: Message, language: str) -> str:
    """A message's text with its buttons as a numbered list the person can answer by number."""
    buttons = message.get("buttons") or []
    if not buttons:
        return message.get("text", "")
    lines = [message.get("text", ""), ""]
    lines += [f"{i}. {b['title']}" for i, b in enumerate(buttons, start=1)]
    hint = {"fr": "Répondez par le numéro.", "nl": "Antwoord met het nummer."}[language]
    return "\n".join([*lines, hint])


def button_ref(message_id: int, index: int) -> str:
    """What a channel button carries back (Telegram allows 64 bytes): the stored message and
    the button's position; the gateway turns it back into the button's payload."""
    return f"b{message_id}:{index}"


def parse_button_ref(text: str) -> tuple[int, int] | None:
    if not text.startswith("b") or ":" not in text:
        return None
    message_id, _, index = text[1:].partition(":")
    # isdigit() alone accepts "²", which int() refuses: people type these texts themselves.
    digits = message_id.isascii() and index.isascii() and message_id.isdigit() and index.isdigit()
    return (int(message_id), int(index)) if digits else None


def split_text(text: str, limit: int) -> list[str]:
    """Text in pieces the channel accepts (Telegram and WhatsApp refuse more than 4096
    characters), cut at a line break or a space when there is one: never truncated."""
    pieces = []
    while len(text) > limit:
        cut = text.rfind("\n", limit // 2, limit + 1)
        if cut == -1:
            cut = text.rfind(" ", limit // 2, limit + 1)
        if cut == -1:
            cut = limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n ")
    return [*pieces, text] if text else pieces


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from an HTTP Retry-After header (the number form; a date is ignored)."""
    value = headers.get("retry-after", "")
    return float(value) if value.replace(".", "", 1).isdigit() else None
