"""Talks to Rasa's REST channel: one user message in, the bot's messages out.

With several Rasa servers, each conversation goes to the same one (a hash of its id), so that a
server keeps answering the conversations it knows; they share the tracker store, and the inbound
queue lets one message of a conversation be in Rasa at a time, so any server can take over. When
the chosen server refuses the connection (down, restarting), the next one answers. A server that
accepted the message and then failed is not asked again elsewhere: it may have processed it.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import httpx

from bot.gateway.profile import Profile, from_custom


class EngineUnavailable(Exception):
    """No Rasa server answered (down, timeout, or an error status)."""


class Reply(NamedTuple):
    """The bot's answers to one message, and the profile it found when the message changed it."""

    answers: list[dict[str, Any]]
    profile: Profile | None = None


class RasaClient:
    def __init__(self, base_urls: str | Sequence[str], timeout_s: float) -> None:
        self._urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        self._client = httpx.AsyncClient(timeout=timeout_s)

    def servers_for(self, sender_id: str) -> list[str]:
        """The servers to try for this conversation, its own first."""
        first = zlib.crc32(sender_id.encode()) % len(self._urls)
        return self._urls[first:] + self._urls[:first]

    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> Reply:
        """The bot's answers to one message ([{"text": ..., "buttons": [...]}, ...]), and the
        profile when it changed."""
        body = {"sender": sender_id, "message": text, "metadata": metadata or {}}
        error: Exception | None = None
        for url in self.servers_for(sender_id):
            try:
                response = await self._client.post(f"{url}/webhooks/rest/webhook", json=body)
                response.raise_for_status()
            except httpx.ConnectError as refused:  # never reached that server: try the next
                error = refused
                continue
            except httpx.HTTPError as failed:
                raise EngineUnavailable(type(failed).__name__) from failed
            return _reply(response.json())
        raise EngineUnavailable(type(error).__name__) from error

    async def close(self) -> None:
        await self._client.aclose()


def _reply(messages: list[dict[str, Any]]) -> Reply:
    answers, profile = [], None
    for message in messages:
        if (found := from_custom(message.get("custom"))) is not None:
            profile = found
        elif "text" in message or "buttons" in message:
            answers.append(_clean(message))
    return Reply(answers, profile)


def _clean(message: dict[str, Any]) -> dict[str, Any]:
    """Keep what channels can show: text and buttons (title + payload)."""
    cleaned: dict[str, Any] = {"text": message.get("text", "")}
    if buttons := message.get("buttons"):
        cleaned["buttons"] = [{"title": b["title"], "payload": b["payload"]} for b in buttons]
    return cleaned
