"""The inbound queue shared by several gateways: a lease per conversation, answers per delivery.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("inbound_lease_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("inbound_lease_owner", sa.String(length=32), nullable=True))
    with op.batch_alter_table("inbound_events") as batch:
        batch.add_column(sa.Column("answer_ids", sa.JSON(), nullable=True))
        batch.create_index("ix_inbound_pending", ["status", "conversation_id"])


def downgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_index("ix_inbound_pending")
        batch.drop_column("answer_ids")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("inbound_lease_owner")
        batch.drop_column("inbound_lease_until")
