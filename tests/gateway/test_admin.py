"""python -m bot.gateway.admin, run as an operator would, and the demo account of `make run`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.gateway import auth
from bot.gateway.admin import ensure_demo_account, main
from bot.gateway.store.models import Counsellor, LoginSession

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough password"
CREATE = (
    "create-user", "--username", "Lea", "--name", "Léa Peeters", "--partner", "ced",
    "--role", "counsellor", "--language", "nl",
)  # fmt: skip


def subprocess_admin(settings, *args: str) -> subprocess.CompletedProcess:
    """The CLI as an operator runs it, in its own process."""
    env = {**os.environ, "RELAIS_DATABASE_URL": settings.database, "RELAIS_NEW_PASSWORD": PASSWORD}
    return subprocess.run(
        [sys.executable, "-m", "bot.gateway.admin", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def admin(settings, monkeypatch, capsys):
    """The CLI's main() in this process (much faster); returns (exit status, stdout, stderr)."""
    monkeypatch.setenv("RELAIS_DATABASE_URL", settings.database)

    def run(*args: str, password: str = PASSWORD) -> tuple[int, str, str]:
        monkeypatch.setenv("RELAIS_NEW_PASSWORD", password)
        status = main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def _lea(sessions) -> Counsellor:
    with sessions() as session:
        return session.scalar(select(Counsellor).where(Counsellor.username == "lea"))


def test_create_user_then_list_users(settings, sessions):
    created = subprocess_admin(settings, *CREATE)
    assert created.returncode == 0, created.stderr
    lea = _lea(sessions)
    assert (lea.display_name, lea.partner_id, lea.role, lea.language) == (
        "Léa Peeters", "ced", "counsellor", "nl",
    )  # fmt: skip
    assert lea.password_hash.startswith("$argon2id$") and PASSWORD not in lea.password_hash
    with sessions() as session:
        assert auth.login(session, "lea", PASSWORD) is not None
    listed = subprocess_admin(settings, "list-users")
    assert listed.returncode == 0, listed.stderr
    [header, row] = listed.stdout.splitlines()
    assert header.split()[:4] == ["username", "name", "role", "partner"]
    assert row.split() == ["lea", "Léa", "Peeters", "counsellor", "ced", "nl", "active"]


@pytest.mark.parametrize(
    ("extra", "password", "message"),
    [
        ((), "short pass", "at least 12 characters"),
        (("--partner", "no_such_partner"), PASSWORD, "unknown partner 'no_such_partner'"),
        (("--partner", ""), PASSWORD, "a counsellor needs --partner"),
    ],
)
def test_create_user_refusals(admin, sessions, extra, password, message):
    status, _, error = admin(*CREATE, *extra, password=password)
    assert status == 1 and message in error
    assert _lea(sessions) is None


def test_a_coordinator_needs_no_partner(admin, sessions):
    status, _, _ = admin("create-user", "--username", "co", "--name", "Co", "--role", "coordinator")
    assert status == 0
    with sessions() as session:
        assert session.scalar(select(Counsellor.role)) == "coordinator"


def test_no_duplicate_username(admin):
    assert admin(*CREATE)[0] == 0
    status, _, error = admin(*[arg.replace("Lea", "LEA") for arg in CREATE])
    assert status == 1 and "already exists" in error


def test_set_password_and_disable_end_the_sessions(admin, sessions, settings):
    assert admin(*CREATE)[0] == 0
    with sessions() as session:
        auth.open_session(session, _lea(sessions), settings)
        session.commit()
    new = "another long password"
    assert admin("set-password", "--username", "lea", password=new)[0] == 0
    with sessions() as session:
        assert session.scalars(select(LoginSession)).all() == []
        assert auth.login(session, "lea", new) is not None
        assert auth.login(session, "lea", PASSWORD) is None
        session.commit()
    assert admin("disable", "--username", "lea")[0] == 0
    with sessions() as session:
        assert auth.login(session, "lea", new) is None
    assert "disabled" in admin("list-users")[1]
    status, _, error = admin("disable", "--username", "nobody")
    assert status == 1 and "no account 'nobody'" in error


def test_demo_account_only_on_an_empty_database(sessions, settings):
    first = ensure_demo_account(sessions, settings)
    assert first is not None
    username, password = first
    assert username == "demo" and len(password) >= 12
    with sessions() as session:
        demo = auth.login(session, username, password)
        assert demo is not None and demo.role == "coordinator"
    assert ensure_demo_account(sessions, settings) is None
