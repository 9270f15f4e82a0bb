"""Engine, sessions and migrations for the gateway's database (any SQLAlchemy URL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, update
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway.store.models import now

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


# PostgreSQL through psycopg 3 (the app environment's driver) whichever way the URL names it.
_POSTGRES = ("postgresql://", "postgres://", "postgresql+psycopg2://")
MIGRATION_LOCK = 7_402_1819  # a PostgreSQL advisory lock: gateways starting together migrate once


def make_engine(url: str) -> Engine:
    if url.startswith(_POSTGRES):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:
            """WAL lets the inbox read while the relay writes; foreign keys are off by default.
            synchronous=NORMAL: a commit survives the process being killed (not a power cut)
            and takes no fsync, which keeps "sent but not yet recorded" as short as possible."""
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(url: str) -> None:
    """Bring the schema to the latest revision (run at every start; a no-op when current)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser syntax
    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            command.upgrade(config, "head")
            return
        with engine.connect() as connection:  # several gateways may start at the same moment
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            try:
                command.upgrade(config, "head")
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
    finally:
        engine.dispose()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def lease(session: Session, column, row_id: int, seconds: float) -> bool:
    """Take a due row for `seconds` with one conditional UPDATE (status pending, `column` past):
    several workers or gateways can poll the same table and each row goes to one of them."""
    model = column.class_
    taken = session.execute(
        update(model)
        .where(model.id == row_id, model.status == "pending", column <= now())
        .values({column.key: now() + timedelta(seconds=seconds)})
    )
    return taken.rowcount == 1
