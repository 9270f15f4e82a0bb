"""Talks to Rasa's REST channel: one user message in, the bot's messages out."""

from __future__ import annotations

from typing import Any

import httpx


class EngineUnavailable(Exception):
    """Rasa did not answer (down, timeout, or an error status)."""


class RasaClient:
    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)

    async def send(
        self, sender_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The bot's answers to one message: [{"text": ..., "buttons": [...]}, ...]."""
        body = {"sender": sender_id, "message": text, "metadata": metadata or {}}
        try:
            response = await self._client.post("/webhooks/rest/webhook", json=body)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise EngineUnavailable(type(error).__name__) from error
        return [_clean(message) for message in response.json()]

    async def close(self) -> None:
        await self._client.aclose()


def _clean(message: dict[str, Any]) -> dict[str, Any]:
    """Keep what channels can show: text and buttons (title + payload)."""
    cleaned: dict[str, Any] = {"text": message.get("text", "")}
    if buttons := message.get("buttons"):
        cleaned["buttons"] = [{"title": b["title"], "payload": b["payload"]} for b in buttons]
    return cleaned
