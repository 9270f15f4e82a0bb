"""Alembic environment of the gateway's database, run by bot.gateway.store.db.migrate.

The URL comes from the "sqlalchemy.url" option that migrate() sets; there is no alembic.ini.
"""

from __future__ import annotations

from alembic import context

from bot.gateway.store.db import make_engine
from bot.gateway.store.models import Base


def run_migrations() -> None:
    """Upgrade through one connection; batch mode so SQLite can alter tables by copying them."""
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # A batch migration drops and recreates tables: with foreign keys enforced,
                # dropping a referenced table would delete or refuse the rows pointing to it.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()  # else Alembic joins this transaction and never commits
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=True,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
