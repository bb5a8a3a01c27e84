"""An index on the inbox's arrival time, for the purge of old finished events.

`purge_inbox` (every worker, once a minute) deletes finished events received
before a cut-off. Status alone is not selective, so without this index
PostgreSQL scanned the whole inbox (600,000 rows in the benchmark's stored-data
run) each time.

Revision ID: 0004
"""
from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    """Add ix_inbox_received."""
    op.create_index("ix_inbox_received", "inbox", ["received_at"])


def downgrade() -> None:
    """Drop ix_inbox_received."""
    op.drop_index("ix_inbox_received", table_name="inbox")
