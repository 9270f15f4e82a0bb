"""Fixtures of the security tests: the whole gateway (create_app) with its defences on a
temporary database, a stub of Rasa's REST channel so that the chat answers at once, and a
signed-in coordinator."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.gateway.app import create_app
from bot.gateway.security import Limits, RateLimiter, install_security, limits_of
from bot.gateway.store.db import make_engine, migrate, session_factory
from bot.gateway.store.models import Handoff
from bot.settings import Settings, get_settings
from tests.connectors import conftest as stubs
from tests.connectors.test_gateway_channels import RasaStub
from tests.gateway.conftest import add_counsellor, sign_in
from tests.test_handoffs_api import body as handoff_body

TOKEN = "internal-token-for-the-security-tests"
SENDER = "abcdefgh12"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON_HEADERS = {"Content-Type": "application/json"}
Gateway = Callable[..., TestClient]
# The stubs of the Telegram and WhatsApp APIs, fixtures of these tests too.
telegram_server, graph_server = stubs.telegram_server, stubs.graph_server
telegram_stub, graph_stub = stubs.telegram_stub, stubs.graph_stub


@pytest.fixture(scope="session")
def rasa_stub() -> Iterator[tuple[RasaStub, str]]:
    stub = RasaStub()
    with stubs.serve(stub.app) as url:
        yield stub, url


@pytest.fixture
def rasa(rasa_stub) -> RasaStub:
    stub, _ = rasa_stub
    stub.received.clear()
    return stub


@pytest.fixture
def gateway_settings(tmp_path, rasa_stub) -> Settings:
    return dataclasses.replace(
        get_settings(),
        var_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'gateway.db'}",
        rasa_url=rasa_stub[1],
        api_token=TOKEN,
        cookie_secure=False,
        inbox_hours="mon-sun 00:00-23:59",
        notify={},
    )


def limits(**changes) -> Limits:
    """The default limits with some changed."""
    return dataclasses.replace(limits_of(get_settings()), **changes)


def secured(settings: Settings, limits: Limits | None, limiter: RateLimiter | None) -> FastAPI:
    """The gateway as create_app builds it, its defences installed (again: only the limits
    change if create_app already installed them)."""
    app = create_app(settings)
    install_security(app, settings, limits, limiter)
    return app


@pytest.fixture
def gateway(gateway_settings) -> Iterator[Gateway]:
    """Opens test clients on the gateway: gateway(limits=..., settings=..., base_url=...)."""
    with ExitStack() as stack:

        def open_client(
            limits: Limits | None = None,
            limiter: RateLimiter | None = None,
            settings: Settings | None = None,
            **client_options,
        ) -> TestClient:
            app = secured(settings or gateway_settings, limits, limiter)
            return stack.enter_context(TestClient(app, **client_options))

        yield open_client


@pytest.fixture
def coordinator(gateway_settings) -> str:
    """A coordinator account (sees every queue, the audit log and the report)."""
    migrate(gateway_settings.database)
    engine = make_engine(gateway_settings.database)
    add_counsellor(session_factory(engine), "cora", None, role="coordinator")
    engine.dispose()
    return "cora"


def signed_in(client: TestClient, username: str) -> TestClient:
    assert sign_in(client, username).status_code == 303
    return client


def handoff(client: TestClient, **changes) -> int:
    """A handoff posted through the internal API, as the action server does; returns its id."""
    payload = handoff_body(conversation_id=f"web:{SENDER}", **changes)
    answer = client.post("/api/handoffs", json=payload, headers=AUTH)
    assert answer.status_code in (200, 201), answer.text
    reference = answer.json()["reference"]
    with client.app.state.sessions() as session:
        return session.scalar(select(Handoff.id).where(Handoff.reference == reference))


@pytest.fixture
def channels(gateway, gateway_settings, telegram_server, graph_server):
    """The gateway with Telegram and WhatsApp on (stub APIs); limits that do not get in the
    way of a corpus sent from one address (they are tested in test_limits)."""
    settings = stubs.channel_settings(
        telegram_server[1],
        graph_server[1],
        var_dir=gateway_settings.var_dir,
        database_url=gateway_settings.database_url,
        rasa_url=gateway_settings.rasa_url,
        api_token=TOKEN,
        outbox_base_s=0.05,
    )
    return gateway(settings=settings, limits=limits(ip_per_minute=1_000_000))
