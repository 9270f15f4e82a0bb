"""The action server's calls to the gateway's internal API (token-authenticated)."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.settings import get_settings

TIMEOUT = aiohttp.ClientTimeout(total=10)


class GatewayUnavailable(Exception):
    """The gateway did not accept the call (down, timeout, refused)."""


async def _call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    settings = get_settings()
    headers = {"Authorization": f"Bearer {settings.api_token}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as client,
            client.request(
                method, settings.gateway_base_url + path, headers=headers, **kwargs
            ) as response,
        ):
            if response.status >= 300:
                raise GatewayUnavailable(f"HTTP {response.status}")
            return await response.json() if response.status != 204 else {}
    except (aiohttp.ClientError, TimeoutError) as error:
        raise GatewayUnavailable(type(error).__name__) from error


async def availability(partner: str) -> dict[str, Any]:
    """{"status": "now"} or {"status": "later", "answer_from": ISO time}."""
    return await _call("GET", "/api/availability", params={"partner": partner})


async def post_handoff(body: dict[str, Any]) -> dict[str, Any]:
    """Idempotent: the same conversation and sequence always give the same reference."""
    return await _call("POST", "/api/handoffs", json=body)


async def request_erasure(conversation_id: str) -> None:
    """The gateway erases the conversation from both stores once this turn is saved."""
    await _call("POST", "/api/erasures", json={"conversation_id": conversation_id})


async def request_data_copy(conversation_id: str, language: str) -> dict[str, str]:
    """{"text": the copy in words, "url": a one-hour link to all of it as JSON}."""
    body = {"conversation_id": conversation_id, "language": language}
    return await _call("POST", "/api/data-copies", json=body)
