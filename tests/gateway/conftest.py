"""Fixtures of the inbox tests: a migrated temporary SQLite database, the inbox router alone in a
FastAPI app, accounts, handoffs, and test clients already signed in."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway import auth
from bot.gateway.inbox import inbox_router
from bot.gateway.relay import conversation_for
from bot.gateway.store.db import make_engine, migrate, session_factory
from bot.gateway.store.models import Counsellor, Handoff, now
from bot.settings import Settings, get_settings

PASSWORD = "correct horse battery staple"
PASSWORD_HASH = auth.hash_password(PASSWORD)  # hashed once: argon2 is slow on purpose
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def settings(tmp_path) -> Settings:
    return dataclasses.replace(
        get_settings(),
        var_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'gateway.db'}",
        cookie_secure=False,
    )


@pytest.fixture
def sessions(settings) -> Iterator[sessionmaker[Session]]:
    migrate(settings.database)
    engine = make_engine(settings.database)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def app(settings, sessions) -> FastAPI:
    app = FastAPI()
    app.include_router(inbox_router(settings, sessions))
    return app


def add_counsellor(
    sessions: sessionmaker[Session],
    username: str,
    partner: str | None,
    role: str = "counsellor",
    language: str = "fr",
) -> int:
    with sessions() as session:
        counsellor = Counsellor(
            username=username,
            display_name=username.capitalize(),
            partner_id=partner,
            role=role,
            language=language,
            password_hash=PASSWORD_HASH,
        )
        session.add(counsellor)
        session.commit()
        return counsellor.id


@pytest.fixture
def accounts(sessions) -> dict[str, int]:
    """anna answers the CED's queue, bert Brusoc's; cora is a coordinator."""
    return {
        "anna": add_counsellor(sessions, "anna", "ced"),
        "bert": add_counsellor(sessions, "bert", "brusoc", language="nl"),
        "cora": add_counsellor(sessions, "cora", None, role="coordinator"),
    }


def summary(text_fr: str = "Résumé lisible.", **fields: Any) -> dict[str, Any]:
    return {
        "text": {"fr": text_fr, "nl": "Leesbare samenvatting."},
        "language": "fr",
        "channel": "web",
        "sector": "horeca",
        "workers": 2,
        "needs": ["finance"],
        "distress": {"level": "high", "cues": ["je n'en peux plus"]},
        "recommended": [{"id": "m1", "name": {"fr": "Prêt d'urgence", "nl": "Noodlening"}}],
        "consent": True,
        "contact": {"preference": "chat", "phone": None, "slot": None},
        "partner": "ced",
        "reason": "distress",
        **fields,
    }


@pytest.fixture
def add_handoff(sessions) -> Callable[..., int]:
    """Insert a handoff (and its conversation) as POST /api/handoffs would; returns its id."""
    counter = iter(range(1, 10_000))

    def add(
        partner: str = "ced",
        priority: int = 4,
        age_minutes: int = 10,
        summary_fields: dict[str, Any] | None = None,
        transcript: list[dict[str, Any]] | None = None,
        channel: str = "web",
        language: str = "fr",
    ) -> int:
        n = next(counter)
        with sessions() as session:
            conversation = conversation_for(session, f"{channel}:person{n:04d}", language)
            handoff = Handoff(
                reference=f"BXL-2026-{n:06d}",
                conversation=conversation,
                sequence=1,
                partner_id=partner,
                reason="asked",
                priority=priority,
                summary=summary_fields if summary_fields is not None else summary(),
                transcript=transcript
                if transcript is not None
                else [{"author": "person", "text": "Bonjour, j'ai besoin d'aide", "at": None}],
                created_at=now() - timedelta(minutes=age_minutes),
            )
            session.add(handoff)
            session.commit()
            return handoff.id

    return add


def sign_in(client: TestClient, username: str, password: str = PASSWORD):
    """The login form as a browser fills it: GET (cookie + hidden field), then POST."""
    page = client.get("/inbox/login")
    token = CSRF_FIELD.search(page.text).group(1)
    return client.post(
        "/inbox/login",
        data={"username": username, "password": password, "csrf": token},
        follow_redirects=False,
    )


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, as the queue page's forms carry it."""
    return CSRF_FIELD.search(client.get("/inbox").text).group(1)


@pytest.fixture
def login_as(app, accounts) -> Iterator[Callable[[str], TestClient]]:
    """A new browser signed in as one of the accounts."""
    clients: list[TestClient] = []

    def open_browser(username: str) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        assert sign_in(client, username).status_code == 303
        return client

    yield open_browser
    for client in clients:
        client.close()
