"""Alembic: an empty database gets exactly the tables, indexes and constraints of the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from bot.gateway.store.db import MIGRATIONS, make_engine, migrate
from bot.gateway.store.models import Base


def test_empty_file_gets_every_table_and_a_second_run_changes_nothing(tmp_path):
    path = tmp_path / "nested" / "gateway.db"
    path.parent.mkdir()
    path.touch()  # an existing, empty SQLite file
    url = f"sqlite:///{path}"
    migrate(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            assert tables == set(Base.metadata.tables) | {"alembic_version"}
            # the migration and the models agree on columns, types, indexes and constraints
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        migrate(url)  # the second run: already at head
        with engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
            assert versions.scalars().all() == [head]
    finally:
        engine.dispose()


def test_missing_folder_is_created(tmp_path):
    url = f"sqlite:///{tmp_path / 'var' / 'gateway.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
