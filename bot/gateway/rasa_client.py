"""Talks to Rasa's REST channel: one user message in, the bot's messages out.

With several Rasa servers, each conversation goes to the same one (a hash of its id), so that a
server keeps answering the conversations it knows; they share the tracker store, and the inbound
queue lets one message of a conversation be in Rasa at a time, so any server can take over. When
the chosen server refuses the connection (down, restarting), the next one answers. A server that
accepted the message and then failed is not asked again elsewhere: it may have processed it.

aiohttp, not httpx as for the channels' APIs: this call is made for every message, and aiohttp
spends a third of httpx's CPU on it (0.4 against 1.1 ms, docs/performance.md).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import aiohttp

from bot.gateway.profile import Profile, from_custom


class EngineUnavailable(Exception):
    """No Rasa server answered (down, timeout, or an error status)."""


class Reply(NamedTuple):
    """The bot's answers to one message, and the profile it reported with them, if any."""

    answers: list[dict[str, Any]]
    profile: Profile | None = None


# Idle connections to Rasa are closed before Sanic's keep-alive (5 s) closes them from its side,
# which would fail the message sent on one at that moment.
KEEPALIVE_S = 2.0


class RasaClient:
    def __init__(self, base_urls: str | Sequence[str], timeout_s: float) -> None:
        self._urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> aiohttp.ClientSession:
        """One session per event loop (aiohttp's belong to the loop they were made in)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            connector = aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
            self._loop = loop
        return self._session

    def servers_for(self, sender_id: str) -> list[str]:
        """The servers to try for this conversation, its own first."""
        first = zlib.crc32(sender_id.encode()) % len(self._urls)
        return self._urls[first:] + self._urls[:first]

    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> Reply:
        """The bot's answers to one message ([{"text": ..., "buttons": [...]}, ...]), and the
        profile that came with them."""
        body = {"sender": sender_id, "message": text, "metadata": metadata or {}}
        error: Exception | None = None
        for url in self.servers_for(sender_id):
            try:
                async with self._client().post(
                    f"{url}/webhooks/rest/webhook", json=body, raise_for_status=True
                ) as response:
                    return _reply(await response.json(content_type=None))
            except aiohttp.ClientConnectorError as refused:  # never reached it: try the next
                error = refused
            except (aiohttp.ClientError, TimeoutError, ValueError) as failed:
                raise EngineUnavailable(type(failed).__name__) from failed
        raise EngineUnavailable(type(error).__name__) from error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


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
