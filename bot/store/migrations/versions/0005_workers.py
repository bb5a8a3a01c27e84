"""Worker processes announce themselves, so that standby web processes know one runs.

A `flask --app bot work` process writes its row every few seconds and deletes
it when it stops. A web process in standby mode handles events itself only when
no worker has been seen lately (not when the workers are merely behind, which
would take the CPU from acknowledging webhooks in a surge).

Revision ID: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    """Add the workers table."""
    op.create_table("workers",
                    sa.Column("name", sa.String(100), primary_key=True),
                    sa.Column("seen_at", sa.Float, nullable=False))


def downgrade() -> None:
    """Drop the workers table."""
    op.drop_table("workers")
