"""Persistence behind one small interface, on SQLite by default and PostgreSQL when set.

The same code serves both: SQLAlchemy Core, and the two dialects' INSERT ... ON
CONFLICT DO NOTHING for deduplication.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import Engine, and_, create_engine, delete, event, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..engine.types import ConvState
from .handoffs import Handoff, Handoffs, Line
from .operators import Operator, Operators
from .schema import conversations, inbox, metadata

__all__ = ["Handoff", "Handoffs", "Line", "Operator", "Operators", "QueuedEvent", "Store",
           "database_url"]


@dataclass
class QueuedEvent:
    """An event waiting in the inbox: whose it is, when it happened, what it carries."""

    event_id: str
    conv_key: str
    ts_ms: int
    inbound: dict[str, Any] | None
    delivery: dict[str, Any] | None = None
    status: str = "pending"
    outbound: Any = None
    attempts: int = 0


def database_url(url: str) -> str:
    """Accept the URLs hosts hand out (postgres://, postgresql://) and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")   # readers do not block the writer
    cur.execute("PRAGMA busy_timeout=10000")  # wait for a lock instead of failing
    cur.close()


class Store:
    """Conversations, the inbox, and the per-conversation lease."""

    def __init__(self, url: str):
        # hide_parameters: SQLAlchemy's errors would otherwise quote the stored
        # message in their text, and errors get logged.
        self.engine: Engine = create_engine(database_url(url), pool_pre_ping=True,
                                            hide_parameters=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        self.handoffs = Handoffs(self.engine)
        self.operators = Operators(self.engine)

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    # -- the inbox -------------------------------------------------------------

    def enqueue(self, events: Iterable[QueuedEvent], now: float | None = None) -> list[str]:
        """Store events durably; return the ids that were new (redeliveries are skipped)."""
        now = time.time() if now is None else now
        new = []
        with self.engine.begin() as conn:
            for ev in events:
                row = conn.execute(self._insert(inbox).values(
                    event_id=ev.event_id, conv_key=ev.conv_key, ts_ms=ev.ts_ms, received_at=now,
                    status="pending", inbound=ev.inbound, delivery=ev.delivery, attempts=0,
                    next_try_at=0.0).on_conflict_do_nothing(index_elements=["event_id"])
                    .returning(inbox.c.id)).first()
                if row is not None:  # None: this id was stored before (a redelivery)
                    new.append(ev.event_id)
                    conn.execute(self._insert(conversations).values(
                        key=ev.conv_key, answers={}, history=[], flags={})
                        .on_conflict_do_nothing(index_elements=["key"]))
        return new

    def pending_keys(self, now: float, limit: int = 50) -> list[str]:
        """Conversations with events due, oldest event first."""
        q = (select(inbox.c.conv_key, func.min(inbox.c.ts_ms).label("first"))
             .where(inbox.c.status.in_(("pending", "decided")), inbox.c.next_try_at <= now)
             .group_by(inbox.c.conv_key).order_by("first").limit(limit))
        with self.engine.connect() as conn:
            return [r.conv_key for r in conn.execute(q)]

    def next_event(self, key: str, now: float, settle: float = 0.0) -> QueuedEvent | None:
        """The conversation's earliest due event, once it has waited `settle` seconds.

        Waiting a moment lets events sent together arrive before we pick the earliest.
        """
        q = (select(inbox).where(inbox.c.conv_key == key,
                                 inbox.c.status.in_(("pending", "decided")))
             .order_by(inbox.c.ts_ms, inbox.c.id).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None or row.next_try_at > now or row.received_at > now - settle:
            return None
        return QueuedEvent(row.event_id, row.conv_key, row.ts_ms, row.inbound, row.delivery,
                           row.status, row.outbound, row.attempts)

    def decide(self, ev: QueuedEvent, key: str, conv: ConvState | None, outbound: Any) -> None:
        """Save the new conversation state and the reply to send, in one transaction."""
        with self.engine.begin() as conn:
            if conv is not None:
                conn.execute(update(conversations).where(conversations.c.key == key)
                             .values(**_conv_row(conv)))
            conn.execute(update(inbox).where(inbox.c.event_id == ev.event_id)
                         .values(status="decided", outbound=outbound, inbound=None))

    def finish(self, event_id: str, status: str = "done", error: str | None = None) -> None:
        """Mark an event done (or failed), dropping everything it carried."""
        with self.engine.begin() as conn:
            conn.execute(update(inbox).where(inbox.c.event_id == event_id).values(
                status=status, inbound=None, delivery=None, outbound=None, error=error))

    def retry_later(self, event_id: str, at: float, error: str) -> None:
        """Count a failed attempt and try again at `at`."""
        with self.engine.begin() as conn:
            conn.execute(update(inbox).where(inbox.c.event_id == event_id).values(
                attempts=inbox.c.attempts + 1, next_try_at=at, error=error))

    def purge_inbox(self, before: float) -> int:
        """Forget finished events received before `before` (their ids served deduplication)."""
        with self.engine.begin() as conn:
            return conn.execute(delete(inbox).where(
                inbox.c.status.in_(("done", "failed")), inbox.c.received_at < before)).rowcount

    # -- conversations -------------------------------------------------------

    def load(self, key: str) -> ConvState | None:
        """The stored conversation, or None if it never started."""
        with self.engine.connect() as conn:
            row = conn.execute(select(conversations).where(conversations.c.key == key)).first()
        if row is None or row.flow is None:
            return None
        last = (datetime.fromtimestamp(row.last_active_ms / 1000, timezone.utc)
                if row.last_active_ms is not None else None)
        return ConvState(row.flow, row.state, dict(row.answers or {}), list(row.history or []),
                         last, dict(row.flags or {}))

    def save(self, key: str, conv: ConvState) -> None:
        """Store a conversation's state, creating it if needed."""
        with self.engine.begin() as conn:
            conn.execute(self._insert(conversations).values(key=key, answers={}, history=[],
                                                            flags={})
                         .on_conflict_do_nothing(index_elements=["key"]))
            conn.execute(update(conversations).where(conversations.c.key == key)
                         .values(**_conv_row(conv)))

    def forget(self, key: str) -> None:
        """Delete everything stored for a conversation (the audit log keeps no content)."""
        self.handoffs.forget(key)
        with self.engine.begin() as conn:
            conn.execute(delete(inbox).where(inbox.c.conv_key == key,
                                             inbox.c.status.in_(("done", "failed"))))
            conn.execute(update(conversations).where(conversations.c.key == key).values(
                flow=None, state=None, answers={}, history=[], flags={}, last_active_ms=None))

    # -- the lease: one worker at a time per conversation ----------------------

    def acquire(self, key: str, owner: str, seconds: float, now: float) -> bool:
        """Take the conversation's lease if it is free or expired."""
        with self.engine.begin() as conn:
            got = conn.execute(update(conversations).where(and_(
                conversations.c.key == key,
                or_(conversations.c.lease_owner.is_(None), conversations.c.lease_owner == owner,
                    conversations.c.lease_until < now)))
                .values(lease_owner=owner, lease_until=now + seconds))
            return got.rowcount == 1

    def release(self, key: str, owner: str) -> None:
        """Give the lease back."""
        with self.engine.begin() as conn:
            conn.execute(update(conversations).where(
                conversations.c.key == key, conversations.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None))


def _conv_row(conv: ConvState) -> dict[str, Any]:
    return {"flow": conv.flow, "state": conv.state, "answers": conv.answers,
            "history": conv.history, "flags": conv.flags,
            "last_active_ms": int(conv.last_active.timestamp() * 1000)
            if conv.last_active else None}
