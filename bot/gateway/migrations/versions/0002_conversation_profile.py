"""The triage profile on each conversation, for the coordinators' report.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = (
    ("sector", sa.String(length=32)),
    ("workers", sa.Integer()),
    ("commune", sa.String(length=64)),
    ("region", sa.String(length=16)),
    ("needs", sa.JSON()),
    ("distress_level", sa.String(length=12)),
    ("urgency", sa.String(length=8)),
)


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
