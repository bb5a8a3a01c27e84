"""Tables: conversations (state, answers, a processing lease) and the inbox of events."""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Column, Float, Index, Integer, MetaData, String,
                        Table, Text)

metadata = MetaData()

conversations = Table(
    "conversations", metadata,
    Column("key", String(200), primary_key=True),
    Column("flow", String(100)),
    Column("state", String(200)),
    Column("answers", JSON, nullable=False, default=dict),
    Column("history", JSON, nullable=False, default=list),
    Column("flags", JSON, nullable=False, default=dict),
    Column("last_active_ms", BigInteger),
    # Whoever holds the lease processes this conversation's events, one at a time.
    Column("lease_owner", String(100)),
    Column("lease_until", Float),
)

# Events are written here before the webhook answers, so none is lost if the
# process dies; `event_id` is unique, so a redelivered event is stored once.
inbox = Table(
    "inbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(100), nullable=False, unique=True),
    Column("conv_key", String(200), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("received_at", Float, nullable=False),
    # pending -> decided (state saved, reply rendered) -> done; or failed
    Column("status", String(20), nullable=False, default="pending"),
    Column("inbound", JSON),        # the person's message: cleared once processed
    Column("delivery", JSON),       # channel data (reply token): cleared once processed
    Column("outbound", JSON),       # rendered reply between decision and sending
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", Float, nullable=False, default=0.0),
    Column("error", Text),
)
Index("ix_inbox_pending", inbox.c.status, inbox.c.next_try_at)
Index("ix_inbox_conv", inbox.c.conv_key, inbox.c.status, inbox.c.ts_ms)
