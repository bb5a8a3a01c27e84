"""The schema as it was before migrations: conversations, inbox, handoffs, audit, operators.

Revision ID: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    """Create the tables that `metadata.create_all` made before Alembic."""
    op.create_table(
        "conversations",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("flow", sa.String(100)),
        sa.Column("state", sa.String(200)),
        sa.Column("answers", sa.JSON, nullable=False),
        sa.Column("history", sa.JSON, nullable=False),
        sa.Column("flags", sa.JSON, nullable=False),
        sa.Column("last_active_ms", sa.BigInteger),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_until", sa.Float))
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(100), nullable=False, unique=True),
        sa.Column("conv_key", sa.String(200), nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("inbound", sa.JSON),
        sa.Column("delivery", sa.JSON),
        sa.Column("outbound", sa.JSON),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_try_at", sa.Float, nullable=False),
        sa.Column("error", sa.Text))
    op.create_index("ix_inbox_pending", "inbox", ["status", "next_try_at"])
    op.create_index("ix_inbox_conv", "inbox", ["conv_key", "status", "ts_ms"])
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conv_key", sa.String(200), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("requested_at", sa.Float, nullable=False),
        sa.Column("claimed_by", sa.String(100)),
        sa.Column("claimed_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("ended_by", sa.String(100)),
        sa.Column("display_name", sa.String(200)))
    op.create_index("ix_handoffs_open", "handoffs", ["status", "priority", "requested_at"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conv_key", sa.String(200), nullable=False),
        sa.Column("handoff_id", sa.Integer),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("operator", sa.String(100)),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("retry_key", sa.String(36)),
        sa.Column("error", sa.Text))
    op.create_index("ix_messages_conv", "messages", ["conv_key", "id"])
    op.create_index("ix_messages_at", "messages", ["at"])
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False))
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("operator", sa.String(100)),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("conv_key", sa.String(200)),
        sa.Column("handoff_id", sa.Integer),
        sa.Column("detail", sa.String(200)))
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100)),
        sa.Column("ip", sa.String(60)),
        sa.Column("at", sa.Float, nullable=False, index=True))


def downgrade() -> None:
    """Drop everything."""
    for table in ("login_failures", "audit", "operators", "messages", "handoffs", "inbox",
                  "conversations"):
        op.drop_table(table)
