"""Shared fixtures: free loopback ports and the real three-service stack for end-to-end tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.gateway.store.db import make_engine, migrate, session_factory
from bot.launch import MODEL, Stack, free_port
from bot.settings import get_settings
from tests.stores import EVENTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


@contextmanager
def running_stack(var_dir: Path, **overrides) -> Iterator[Stack]:
    """Action server, Rasa servers and gateway on free loopback ports, with their own SQLite
    under var_dir; `overrides` change settings for one test module."""
    settings = get_settings()
    if not (settings.models_dir / MODEL).exists():
        pytest.fail("no trained model: `make test` trains it first")
    settings = dataclasses.replace(
        settings,
        gateway_port=free_port(),
        rasa_port=free_port(),
        action_port=free_port(),
        var_dir=var_dir,
        tracker_db="",
        inbox_hours="mon-sun 00:00-23:59",  # counsellors "on duty" whenever the tests run
        **overrides,
    )
    running = Stack(settings)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The stack the end-to-end tests share, with two Rasa servers whatever the machine's
    default: the gateway spreading conversations over servers that share one tracker store is
    what a machine with more cores runs."""
    with running_stack(tmp_path_factory.mktemp("var"), rasa_servers=2) as running:
        yield running


@pytest.fixture(scope="session")
def gateway_db(stack):
    """Sessions on the running gateway's own database, to check what it stored."""
    engine = make_engine(stack.settings.database)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def gateway_url(stack) -> str:
    return f"http://{stack.settings.host}:{stack.settings.gateway_port}"


@pytest.fixture
def chat(gateway_url):
    """Send one web-chat message; returns the HTTP response."""
    with httpx.Client(base_url=gateway_url, timeout=60) as client:

        def send(sender_id: str, text: str, **extra) -> httpx.Response:
            return client.post("/api/chat", json={"sender_id": sender_id, "text": text, **extra})

        yield send


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module: Playwright's sync API keeps an event loop running in this
    thread while it is open, which would break the asyncio tests of later modules."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: `.ci/run` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def stores(tmp_path):
    """(gateway sessions, tracker engine): both stores, empty, on temporary SQLite files."""
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate(url)
    gateway = make_engine(url)
    tracker = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    EVENTS.metadata.create_all(tracker)
    yield session_factory(gateway), tracker
    gateway.dispose()
    tracker.dispose()
