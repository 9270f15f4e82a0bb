"""Counsellor authentication: argon2 passwords, lockout, cookie sessions and CSRF tokens.

The browser holds a random session token in an HttpOnly cookie; the database keeps only its
SHA-256, so a copy of the database does not let anyone sign in. Each session has its own CSRF
token that every POST form sends back; the login form, which has no session yet, uses a
double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Form, HTTPException, Request, Response
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway.store.models import Counsellor, LoginSession, now
from bot.settings import Settings, get_settings

SESSION_COOKIE = "relais_session"
LOGIN_CSRF_COOKIE = "relais_login_csrf"
COOKIE_PATH = "/inbox"
LOGIN_PATH = "/inbox/login"
ROLES = ("counsellor", "coordinator")

_hasher = PasswordHasher()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _decoy_hash() -> str:
    """Verified for unknown, disabled or locked accounts, so that every refusal costs the same."""
    return _hasher.hash(secrets.token_urlsafe(16))


def normalise_username(username: str) -> str:
    """Usernames are compared case-insensitively: stored and looked up in lower case."""
    return username.strip().lower()


def login(
    session: Session, username: str, password: str, settings: Settings | None = None
) -> Counsellor | None:
    """The counsellor these credentials open, or None; the caller commits either way.

    Failures are counted on the account; settings.login_max_failures of them lock it for
    settings.login_lockout_minutes. The answer does not tell why it failed.
    """
    settings = settings or get_settings()
    counsellor = session.scalar(
        select(Counsellor).where(Counsellor.username == normalise_username(username))
    )
    moment = now()
    usable = counsellor is not None and counsellor.active
    if not usable or (counsellor.locked_until and counsellor.locked_until > moment):
        _matches(_decoy_hash(), password)
        return None
    if not _matches(counsellor.password_hash, password):
        _count_failure(session, counsellor, settings)
        return None
    counsellor.failed_logins = 0
    counsellor.locked_until = None
    if _hasher.check_needs_rehash(counsellor.password_hash):
        counsellor.password_hash = hash_password(password)
    return counsellor


def _count_failure(session: Session, counsellor: Counsellor, settings: Settings) -> None:
    """Increment in SQL, so that parallel guesses from several processes all count."""
    session.execute(
        update(Counsellor)
        .where(Counsellor.id == counsellor.id)
        .values(failed_logins=Counsellor.failed_logins + 1)
    )
    session.refresh(counsellor)
    if counsellor.failed_logins >= settings.login_max_failures:
        counsellor.locked_until = now() + timedelta(minutes=settings.login_lockout_minutes)
        counsellor.failed_logins = 0


@dataclass(frozen=True)
class SignedIn:
    """The signed-in counsellor as the inbox needs it, detached from any database session."""

    id: int
    username: str
    display_name: str
    partner_id: str | None
    role: str
    language: str
    csrf: str
    token: str

    @property
    def is_coordinator(self) -> bool:
        return self.role == "coordinator"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, counsellor: Counsellor, settings: Settings) -> str:
    """A new login session; returns the token for the cookie. Expired sessions are purged."""
    session.execute(delete(LoginSession).where(LoginSession.expires_at <= now()))
    token = new_token()
    session.add(
        LoginSession(
            token_hash=_digest(token),
            csrf_token=new_token(),
            counsellor_id=counsellor.id,
            expires_at=now() + timedelta(minutes=settings.session_minutes),
        )
    )
    return token


def close_session(session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == _digest(token)))


def signed_in(session: Session, token: str | None) -> SignedIn | None:
    """Who holds this token, if the session is live and the account active; the caller commits
    (an expired session found here is deleted)."""
    if not token:
        return None
    login_session = session.scalar(
        select(LoginSession).where(LoginSession.token_hash == _digest(token))
    )
    if login_session is None:
        return None
    if login_session.expires_at <= now():
        session.delete(login_session)
        return None
    counsellor = login_session.counsellor
    if not counsellor.active:
        return None
    return SignedIn(
        id=counsellor.id,
        username=counsellor.username,
        display_name=counsellor.display_name,
        partner_id=counsellor.partner_id,
        role=counsellor.role,
        language=counsellor.language,
        csrf=login_session.csrf_token,
        token=token,
    )


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison that never accepts an empty token."""
    return bool(expected and given) and hmac.compare_digest(expected.encode(), given.encode())


def _set_cookie(
    response: Response, name: str, value: str, max_age: int, settings: Settings
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    _set_cookie(response, SESSION_COOKIE, token, settings.session_minutes * 60, settings)


def clear_cookie(response: Response, name: str, settings: Settings) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, secure=settings.cookie_secure, httponly=True, samesite="lax"
    )


def set_login_csrf_cookie(response: Response, token: str, settings: Settings) -> None:
    """The login form's token, also in a cookie: a cross-site form can send neither matching."""
    _set_cookie(response, LOGIN_CSRF_COOKIE, token, 3600, settings)


def login_csrf_ok(request: Request, given: str) -> bool:
    return same_token(request.cookies.get(LOGIN_CSRF_COOKIE), given)


class Auth:
    """The inbox's FastAPI dependencies, bound to the gateway's database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def _viewer(self, request: Request) -> SignedIn | None:
        with self.sessions() as session:
            viewer = signed_in(session, request.cookies.get(SESSION_COOKIE))
            session.commit()
        return viewer

    def current_counsellor(self, request: Request) -> SignedIn:
        """For pages: someone not signed in is sent to the login page."""
        viewer = self._viewer(request)
        if viewer is None:
            raise HTTPException(status_code=303, headers={"Location": LOGIN_PATH})
        return viewer

    def current_counsellor_api(self, request: Request) -> SignedIn:
        """For the event stream and fragments fetched by script: a plain 401 they can act on."""
        viewer = self._viewer(request)
        if viewer is None:
            raise HTTPException(status_code=401, detail="not signed in")
        return viewer

    def csrf_protected(self, request: Request, csrf: Annotated[str, Form()] = "") -> SignedIn:
        """For POST forms: signed in, and the form carries this session's CSRF token."""
        viewer = self.current_counsellor(request)
        if not same_token(viewer.csrf, csrf):
            raise HTTPException(status_code=403, detail="CSRF token missing or wrong")
        return viewer
