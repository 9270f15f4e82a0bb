"""Local stubs of the Telegram Bot API and of the WhatsApp Graph API, on loopback ports.

The real clients (python-telegram-bot, httpx) talk to them over HTTP, so what is asserted is
what would go over the wire. Each stub records the calls it received and can be told to fail.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bot.launch import free_port
from bot.settings import Settings, get_settings
from connectors.base import Channel, Forged, Inbound, Malformed

TELEGRAM_TOKEN = "123456789:AAHtestTokenForRelaisStub_xyz"
TELEGRAM_SECRET = "relais-webhook-secret_42"
WHATSAPP_TOKEN = "EAAGtestPermanentToken"
WHATSAPP_APP_SECRET = "0123456789abcdef0123456789abcdef"
WHATSAPP_VERIFY_TOKEN = "relais-verify-token"
PHONE_NUMBER_ID = "106540352242922"
GRAPH_VERSION = "v21.0"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "Relais", "username": "RelaisBot"}


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """The app on a loopback port bound before the server starts (no race for the port)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("stub server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class TelegramStub:
    """The Bot API methods the adapter uses, answering {"ok": true, "result": ...}."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.app.add_api_route("/bot{token}/{method}", self._handle, methods=["GET", "POST"])
        self.reset()

    def reset(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.call_times: list[float] = []  # time.monotonic() of each call
        self.failures: dict[str, tuple[int, dict[str, Any]]] = {}
        self.updates: list[dict[str, Any]] = []

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        """The parameters of each call to a method, reply_markup decoded."""
        found = [dict(params) for name, params in self.calls if name == method]
        for params in found:
            if "reply_markup" in params:
                params["reply_markup"] = json.loads(params["reply_markup"])
        return found

    async def _handle(self, token: str, method: str, request: Request) -> JSONResponse:
        if token != TELEGRAM_TOKEN:
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401
            )
        params = {key: str(value) for key, value in (await request.form()).items()}
        self.calls.append((method, params))
        self.call_times.append(time.monotonic())
        if method in self.failures:
            status, body = self.failures[method]
            return JSONResponse(body, status_code=status)
        return JSONResponse({"ok": True, "result": await self._result(method, params)})

    async def _result(self, method: str, params: dict[str, str]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "sendMessage":
            message = {
                "message_id": len(self.calls),
                "from": BOT_USER,
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "date": int(time.time()),
                "text": params["text"],
            }
            if "reply_markup" in params:
                message["reply_markup"] = json.loads(params["reply_markup"])
            return message
        if method == "getUpdates":
            offset = int(params.get("offset", 0))
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed
            if not self.updates:
                await asyncio.sleep(0.05)  # a long poll with nothing new, shortened
            return self.updates
        if method in ("deleteWebhook", "answerCallbackQuery"):
            return True
        raise AssertionError(f"the stub does not know {method}")


class GraphStub:
    """POST /<version>/<phone number id>/messages, answering like the Cloud API."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.app.add_api_route(
            f"/{GRAPH_VERSION}/{{phone_number_id}}/messages", self._handle, methods=["POST"]
        )
        self.reset()

    def reset(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.failures: list[tuple[int, dict[str, Any], dict[str, str]]] = []

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [request["json"] for request in self.requests]

    def fail(self, status: int, code: int, message: str, **headers: str) -> None:
        """The next request gets a Graph error."""
        error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Az1"}
        self.failures.append((status, {"error": error}, headers))

    async def _handle(self, phone_number_id: str, request: Request) -> JSONResponse:
        self.requests.append(
            {
                "phone_number_id": phone_number_id,
                "authorization": request.headers.get("authorization"),
                "content_type": request.headers.get("content-type"),
                "json": json.loads(await request.body()),
                "at": time.monotonic(),
            }
        )
        if self.failures:
            status, body, headers = self.failures.pop(0)
            return JSONResponse(body, status_code=status, headers=headers)
        to = self.requests[-1]["json"]["to"]
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.HBgLMzI0NzA{len(self.requests)}"}],
            }
        )


@pytest.fixture(scope="session")
def telegram_server() -> Iterator[tuple[TelegramStub, str]]:
    stub = TelegramStub()
    with serve(stub.app) as url:
        yield stub, url


@pytest.fixture(scope="session")
def graph_server() -> Iterator[tuple[GraphStub, str]]:
    stub = GraphStub()
    with serve(stub.app) as url:
        yield stub, url


@pytest.fixture
def telegram_stub(telegram_server) -> TelegramStub:
    stub, _ = telegram_server
    stub.reset()
    return stub


@pytest.fixture
def graph_stub(graph_server) -> GraphStub:
    stub, _ = graph_server
    stub.reset()
    return stub


def channel_settings(telegram_url: str, graph_url: str, **overrides: Any) -> Settings:
    """Both channels configured, pointed at the given API base URLs."""
    return dataclasses.replace(
        get_settings(),
        telegram_token=TELEGRAM_TOKEN,
        telegram_secret=TELEGRAM_SECRET,
        telegram_api_url=f"{telegram_url}/bot",
        whatsapp_token=WHATSAPP_TOKEN,
        whatsapp_app_secret=WHATSAPP_APP_SECRET,
        whatsapp_verify_token=WHATSAPP_VERIFY_TOKEN,
        whatsapp_phone_number_id=PHONE_NUMBER_ID,
        whatsapp_api_url=f"{graph_url}/{GRAPH_VERSION}",
        whatsapp_template="relais_reponse_conseiller",
        **overrides,
    )


@pytest.fixture
def settings(telegram_server, graph_server) -> Settings:
    return channel_settings(telegram_server[1], graph_server[1])


@pytest.fixture
def unreachable_url() -> str:
    """A loopback URL nothing listens on: the network error path."""
    return f"http://127.0.0.1:{free_port()}"


# --- fuzzing: parse() returns a list of Inbound or refuses with Forged/Malformed, nothing else --

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
fuzz = hypothesis_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def mostly(good: st.SearchStrategy) -> st.SearchStrategy:
    """Usually a well-typed value, so the parser gets deep; sometimes anything (on a middle
    value of the dice: hypothesis favours 0 and the bounds)."""
    return st.integers(0, 19).flatmap(lambda dice: json_values if dice == 10 else good)


def parses_or_refuses(channel: Channel, body: bytes, headers: dict[str, str]) -> None:
    try:
        inbounds = channel.parse(body, headers)
    except (Forged, Malformed):
        return
    assert isinstance(inbounds, list)
    for inbound in inbounds:
        assert isinstance(inbound, Inbound)
        assert isinstance(inbound.user_id, str) and isinstance(inbound.event_id, str)
        assert inbound.text is None or isinstance(inbound.text, str)
