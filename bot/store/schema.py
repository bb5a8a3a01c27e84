"""Tables: conversations (state, answers, a processing lease) and the inbox of events.

This is the schema at the newest migration (`bot/store/migrations/versions`);
change it only together with a new migration.
"""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Float, Index, Integer, MetaData,
                        String, Table, Text)

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
    # The event the lease was taken for: once that event is finished, the lease is free.
    Column("lease_event", String(100)),
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
    # pending -> decided (state saved, reply rendered) -> sending -> done; or failed.
    # "sending" is recorded before each send: found after a crash, its outcome is unknown.
    Column("status", String(20), nullable=False, default="pending"),
    Column("inbound", JSON),        # the person's message: cleared once processed
    Column("delivery", JSON),       # channel data (reply token): cleared once processed
    Column("outbound", JSON),       # rendered reply between decision and sending
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", Float, nullable=False, default=0.0),
    Column("error", Text),
    Column("sent_batches", Integer, nullable=False, default=0),  # requests LINE has taken
    Column("sending_at", Float),    # when the last send began
    Column("safety", Boolean, nullable=False, default=False),  # the reply carries crisis/danger help
    Column("alerted", Boolean, nullable=False, default=False),  # staff were told it is stuck
)
Index("ix_inbox_pending", inbox.c.status, inbox.c.next_try_at)
Index("ix_inbox_conv", inbox.c.conv_key, inbox.c.status, inbox.c.ts_ms)
Index("ix_inbox_received", inbox.c.received_at)  # the purge of old finished events

# -- Handoff to staff -----------------------------------------------------------

# A request for a human: waiting -> claimed -> returned or closed; or cancelled.
handoffs = Table(
    "handoffs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conv_key", String(200), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("priority", Integer, nullable=False, default=0),  # 0 normal, 1 danger, 2 crisis
    Column("requested_at", Float, nullable=False),
    Column("claimed_by", String(100)),
    Column("claimed_at", Float),
    Column("ended_at", Float),
    Column("ended_by", String(100)),
    Column("display_name", String(200)),  # only when CONSOLE_SHOW_PROFILE is on
)
Index("ix_handoffs_open", handoffs.c.status, handoffs.c.priority, handoffs.c.requested_at)

# The transcript: the person's messages, the bot's answers, staff replies and notes.
messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conv_key", String(200), nullable=False),
    Column("handoff_id", Integer),
    Column("at", Float, nullable=False),
    Column("direction", String(10), nullable=False),  # in, bot, staff, note
    Column("text", Text, nullable=False),
    Column("operator", String(100)),
    Column("status", String(10), nullable=False, default="sent"),  # sent, failed (staff)
    Column("retry_key", String(36)),
    Column("error", Text),
)
Index("ix_messages_conv", messages.c.conv_key, messages.c.id)
Index("ix_messages_at", messages.c.at)

operators = Table(
    "operators", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("password_hash", String(300), nullable=False),
    Column("created_at", Float, nullable=False),
)

# Who viewed, claimed, replied, returned, closed, deleted; never any message text.
audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("operator", String(100)),
    Column("action", String(30), nullable=False),
    Column("conv_key", String(200)),
    Column("handoff_id", Integer),
    Column("detail", String(200)),
)

login_failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100)),
    Column("ip", String(60)),
    Column("at", Float, nullable=False, index=True),
)

# Calls to other services that follow a decision (Slack, the profile API), written in
# the decision's transaction and carried out after it commits, with retries.
outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", Float, nullable=False, default=0.0),
    Column("error", Text),
)
Index("ix_outbox_due", outbox.c.next_try_at)

# What the local channel (terminal chat, simulator) "delivered": read back by them.
local_messages = Table(
    "local_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conv_key", String(200), nullable=False),
    Column("at", Float, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("retry_key", String(64), unique=True),  # a repeated push is stored once
)
Index("ix_local_messages_conv", local_messages.c.conv_key, local_messages.c.id)

# Console sessions live here, so that logging out ends them for any copy of the cookie.
console_sessions = Table(
    "console_sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("operator_id", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("seen_at", Float, nullable=False),  # the operator's last own action (not polling)
)

# Worker processes (`flask --app bot work`) alive lately: a name (host and pid) and when
# it last said so. Standby web processes handle events only when none is.
workers = Table(
    "workers", metadata,
    Column("name", String(100), primary_key=True),
    Column("seen_at", Float, nullable=False),
)
