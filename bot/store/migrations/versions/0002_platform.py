"""Sending state and safety flag on the inbox; outbox; local channel; server-side sessions.

Revision ID: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    """Add what fault-tolerant sending, the outbox and console sessions need."""
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("sent_batches", sa.Integer, nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("sending_at", sa.Float))
        batch.add_column(sa.Column("safety", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("alerted", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_try_at", sa.Float, nullable=False),
        sa.Column("error", sa.Text))
    op.create_index("ix_outbox_due", "outbox", ["next_try_at"])
    op.create_table(
        "local_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conv_key", sa.String(200), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("retry_key", sa.String(64), unique=True))
    op.create_index("ix_local_messages_conv", "local_messages", ["conv_key", "id"])
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("operator_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False))


def downgrade() -> None:
    """Remove them again."""
    op.drop_table("console_sessions")
    op.drop_table("local_messages")
    op.drop_table("outbox")
    with op.batch_alter_table("inbox") as batch:
        for name in ("alerted", "safety", "sending_at", "sent_batches"):
            batch.drop_column(name)
