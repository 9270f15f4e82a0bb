"""Inbox accounts from the command line: python -m bot.gateway.admin COMMAND.

create-user, list-users, set-password and disable work on the database of RELAIS_DATABASE_URL
(migrated first). Passwords come from RELAIS_NEW_PASSWORD or are asked twice, never from an
argument (it would stay in the shell history and the process list).
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from collections.abc import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway import auth
from bot.gateway.store.db import make_engine, migrate, session_factory
from bot.gateway.store.models import Counsellor, LoginSession
from bot.language import SUPPORTED
from bot.settings import Settings, get_settings

MIN_PASSWORD_CHARS = 12
PASSWORD_VARIABLE = "RELAIS_NEW_PASSWORD"
DEMO_USERNAME = "demo"


class AdminError(Exception):
    """A refusal explained to the operator; the command exits with status 1."""


def new_password() -> str:
    """From RELAIS_NEW_PASSWORD, else typed twice; at least MIN_PASSWORD_CHARS characters."""
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise AdminError("the two passwords differ")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AdminError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    return password


def check_partner(partner_id: str) -> None:
    """The partner must be in the catalogue; if the catalogue cannot load, trust the operator."""
    try:
        from bot.catalog import catalog

        partners = catalog().partners
    except Exception as error:  # any broken catalogue file: warn, do not block account creation
        print(f"warning: catalogue not loaded ({error}); partner {partner_id!r} not checked")
        return
    if partner_id not in partners:
        raise AdminError(f"unknown partner {partner_id!r}; known: {', '.join(sorted(partners))}")


def _account(session: Session, username: str) -> Counsellor:
    counsellor = session.scalar(
        select(Counsellor).where(Counsellor.username == auth.normalise_username(username))
    )
    if counsellor is None:
        raise AdminError(f"no account {username!r}")
    return counsellor


def _end_sessions(session: Session, counsellor: Counsellor) -> None:
    """Signs the account out everywhere (after a new password, or when it is disabled)."""
    session.execute(delete(LoginSession).where(LoginSession.counsellor_id == counsellor.id))


def create_user(session: Session, args: argparse.Namespace) -> str:
    username = auth.normalise_username(args.username)
    if session.scalar(select(Counsellor).where(Counsellor.username == username)):
        raise AdminError(f"the account {username!r} already exists")
    if args.partner:
        check_partner(args.partner)
    elif args.role == "counsellor":
        raise AdminError("a counsellor needs --partner (the queue it answers)")
    session.add(
        Counsellor(
            username=username,
            display_name=args.name,
            partner_id=args.partner,
            role=args.role,
            language=args.language,
            password_hash=auth.hash_password(new_password()),
        )
    )
    return f"created {args.role} {username!r}"


def list_users(session: Session, args: argparse.Namespace) -> str:
    rows = [("username", "name", "role", "partner", "lang", "state")]
    for counsellor in session.scalars(select(Counsellor).order_by(Counsellor.username)):
        state = "active" if counsellor.active else "disabled"
        if counsellor.locked_until:
            state += f", locked until {counsellor.locked_until:%Y-%m-%d %H:%M} UTC"
        rows.append(
            (
                counsellor.username,
                counsellor.display_name,
                counsellor.role,
                counsellor.partner_id or "-",
                counsellor.language,
                state,
            )
        )
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def set_password(session: Session, args: argparse.Namespace) -> str:
    counsellor = _account(session, args.username)
    counsellor.password_hash = auth.hash_password(new_password())
    counsellor.failed_logins = 0
    counsellor.locked_until = None
    _end_sessions(session, counsellor)
    return f"new password for {counsellor.username!r}; its sessions are closed"


def disable(session: Session, args: argparse.Namespace) -> str:
    counsellor = _account(session, args.username)
    counsellor.active = False
    _end_sessions(session, counsellor)
    return f"disabled {counsellor.username!r}; its sessions are closed"


def ensure_demo_account(
    sessions: sessionmaker[Session], settings: Settings
) -> tuple[str, str] | None:
    """On a first start (no inbox account at all), a coordinator "demo" with a random password.

    Returns (username, password) for the launcher to print once, else None. Migrates first,
    since the launcher may call it before the gateway has created the tables.
    """
    migrate(settings.database)
    with sessions() as session:
        if session.scalar(select(func.count()).select_from(Counsellor)):
            return None
        password = secrets.token_urlsafe(18)
        session.add(
            Counsellor(
                username=DEMO_USERNAME,
                display_name="Demo",
                role="coordinator",
                password_hash=auth.hash_password(password),
            )
        )
        try:
            session.commit()
        except IntegrityError:  # another process starting at the same time created it
            return None
    return DEMO_USERNAME, password


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="python -m bot.gateway.admin", description="Manage the counsellor inbox accounts."
    )
    commands = main_parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create-user", help="create an inbox account")
    create.add_argument("--username", required=True)
    create.add_argument("--name", required=True, help="display name shown to the person")
    create.add_argument("--partner", help="catalogue partner id (required for a counsellor)")
    create.add_argument("--role", choices=auth.ROLES, default="counsellor")
    create.add_argument("--language", choices=SUPPORTED, default="fr")
    create.set_defaults(run=create_user)

    commands.add_parser("list-users", help="list the accounts").set_defaults(run=list_users)

    for name, run, help_text in (
        ("set-password", set_password, "give an account a new password"),
        ("disable", disable, "disable an account"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--username", required=True)
        command.set_defaults(run=run)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run: Callable[[Session, argparse.Namespace], str] = args.run
    settings = get_settings()
    migrate(settings.database)
    engine = make_engine(settings.database)
    try:
        with session_factory(engine)() as session:
            message = run(session, args)
            session.commit()
    except AdminError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
