"""The event a conversation's lease was taken for: finishing that event frees the lease.

Revision ID: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    """Add conversations.lease_event."""
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("lease_event", sa.String(100)))


def downgrade() -> None:
    """Drop conversations.lease_event."""
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("lease_event")
