"""Counsellor sign-in: argon2 hashes, lockout, sessions stored as hashes, CSRF on every form."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bot.gateway import auth
from bot.gateway.store.models import Counsellor, Handoff, LoginSession, now

from .conftest import PASSWORD, csrf_of, sign_in


def _counsellor(sessions, username: str) -> Counsellor:
    with sessions() as session:
        return session.scalar(select(Counsellor).where(Counsellor.username == username))


def test_only_an_argon2_hash_is_stored(sessions, accounts):
    stored = _counsellor(sessions, "anna").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_good_password_opens_a_session_cookie_whose_hash_is_stored(app, sessions, accounts):
    with TestClient(app) as client:
        response = sign_in(client, "anna")
        assert response.status_code == 303 and response.headers["location"] == "/inbox"
        cookie = response.headers["set-cookie"]
        assert "relais_session=" in cookie and "HttpOnly" in cookie and "Path=/inbox" in cookie
        assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
        token = client.cookies.get("relais_session")
        assert client.get("/inbox").status_code == 200
    with sessions() as session:
        stored = session.scalars(select(LoginSession.token_hash)).all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


def test_secure_cookie_when_the_settings_ask_for_it(settings):
    from starlette.responses import Response

    response = Response()
    auth.set_session_cookie(response, "x", dataclasses.replace(settings, cookie_secure=True))
    assert "Secure" in response.headers["set-cookie"]
    auth.set_session_cookie(response := Response(), "x", settings)
    assert "Secure" not in response.headers["set-cookie"]


def test_wrong_password_or_unknown_user_gets_the_same_generic_refusal(app, accounts):
    with TestClient(app) as client:
        wrong = sign_in(client, "anna", "not the password at all")
        unknown = sign_in(client, "nobody", PASSWORD)
        for response in (wrong, unknown):
            assert response.status_code == 303
            assert response.headers["location"] == "/inbox/login?failed=1"
            assert "relais_session" not in response.headers.get("set-cookie", "")
        page = client.get("/inbox/login?failed=1")
        assert "Identifiant ou mot de passe incorrect" in page.text


def test_lockout_after_max_failures_even_for_the_right_password(app, sessions, settings, accounts):
    with TestClient(app) as client:
        for _ in range(settings.login_max_failures):
            assert (
                sign_in(client, "anna", "wrong password!!").headers["location"].endswith("failed=1")
            )
        locked = _counsellor(sessions, "anna")
        assert locked.locked_until > now() + timedelta(minutes=settings.login_lockout_minutes - 1)
        assert sign_in(client, "anna").headers["location"].endswith("failed=1")
        # once the lock has passed, the right password works again
        with sessions() as session:
            session.execute(
                update(Counsellor)
                .where(Counsellor.username == "anna")
                .values(locked_until=now() - timedelta(seconds=1))
            )
            session.commit()
        assert sign_in(client, "anna").headers["location"] == "/inbox"
    assert _counsellor(sessions, "anna").failed_logins == 0


def test_failures_below_the_limit_do_not_lock(app, sessions, settings, accounts):
    with TestClient(app) as client:
        for _ in range(settings.login_max_failures - 1):
            sign_in(client, "anna", "wrong password!!")
        assert sign_in(client, "anna").headers["location"] == "/inbox"


def test_disabled_account_cannot_sign_in_and_its_session_stops(app, sessions, login_as):
    anna = login_as("anna")
    with sessions() as session:
        session.execute(
            update(Counsellor).where(Counsellor.username == "anna").values(active=False)
        )
        session.commit()
    assert anna.get("/inbox", follow_redirects=False).status_code == 303
    with TestClient(app) as client:
        assert sign_in(client, "anna").headers["location"].endswith("failed=1")


def test_outdated_hash_is_replaced_at_sign_in(sessions, accounts):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with sessions() as session:
        session.execute(
            update(Counsellor).where(Counsellor.username == "anna").values(password_hash=weak)
        )
        assert auth.login(session, "ANNA ", PASSWORD) is not None
        session.commit()
    assert _counsellor(sessions, "anna").password_hash not in (weak, PASSWORD)


def test_expired_session_is_refused_and_deleted(sessions, login_as):
    anna = login_as("anna")
    with sessions() as session:
        session.execute(update(LoginSession).values(expires_at=now() - timedelta(seconds=1)))
        session.commit()
    response = anna.get("/inbox", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/inbox/login"
    with sessions() as session:
        assert session.scalars(select(LoginSession)).all() == []


def test_pages_redirect_and_the_event_stream_answers_401_when_signed_out(app):
    with TestClient(app) as client:
        page = client.get("/inbox", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/inbox/login"
        assert client.get("/inbox/events").status_code == 401
        assert client.get("/inbox/queue").status_code == 401


def test_logout_ends_the_session(sessions, login_as):
    anna = login_as("anna")
    response = anna.post("/inbox/logout", data={"csrf": csrf_of(anna)}, follow_redirects=False)
    assert response.status_code == 303
    with sessions() as session:
        assert session.scalars(select(LoginSession)).all() == []
    assert anna.get("/inbox", follow_redirects=False).status_code == 303


def test_login_form_without_its_csrf_cookie_is_refused(app, accounts):
    with TestClient(app) as client:
        client.get("/inbox/login")
        forged = client.post(
            "/inbox/login",
            data={"username": "anna", "password": PASSWORD, "csrf": "forged"},
            follow_redirects=False,
        )
        assert forged.status_code == 403
    with TestClient(app) as fresh:  # no cookie at all, as from another site
        response = fresh.post(
            "/inbox/login", data={"username": "anna", "password": PASSWORD, "csrf": ""}
        )
        assert response.status_code == 403


def test_forms_without_the_right_csrf_token_change_nothing(sessions, login_as, add_handoff):
    handoff_id = add_handoff()
    anna = login_as("anna")
    for data in ({}, {"csrf": "wrong"}, {"csrf": ""}):
        response = anna.post(f"/inbox/handoffs/{handoff_id}/claim", data=data)
        assert response.status_code == 403
    assert anna.post("/inbox/logout", data={"csrf": "wrong"}).status_code == 403
    with sessions() as session:
        assert session.get(Handoff, handoff_id).status == "queued"
        assert len(session.scalars(select(LoginSession)).all()) == 1


def test_another_sessions_csrf_token_is_refused(sessions, login_as, add_handoff):
    handoff_id = add_handoff()
    first, second = login_as("anna"), login_as("anna")
    response = second.post(f"/inbox/handoffs/{handoff_id}/claim", data={"csrf": csrf_of(first)})
    assert response.status_code == 403
    with sessions() as session:
        assert session.get(Handoff, handoff_id).status == "queued"
