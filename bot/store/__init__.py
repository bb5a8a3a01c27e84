"""Persistence behind one small interface, on SQLite by default and PostgreSQL when set.

The same code serves both: SQLAlchemy Core, and the two dialects' INSERT ... ON
CONFLICT DO NOTHING for deduplication. The schema is managed by Alembic
(`migrate.upgrade`); every write that belongs to a conversation's processing is
guarded by its lease: it happens only while the writer still holds it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from sqlalchemy import (Connection, Engine, and_, create_engine, delete, event, func, or_,
                        select, update)
from sqlalchemy.dialects import postgresql, sqlite

from ..engine.types import ConvState
from . import migrate
from .handoffs import Handoff, Handoffs, Line
from .operators import Operator, Operators
from .outbox import Outbox
from .schema import conversations, inbox, local_messages

FORGOTTEN = "-"  # the conv_key of a finished event whose person asked to be forgotten

__all__ = ["Handoff", "Handoffs", "LeaseLost", "Line", "Operator", "Operators", "Outbox",
           "QueuedEvent", "Store", "database_url"]
UNFINISHED = ("pending", "decided", "sending")


class LeaseLost(Exception):
    """This worker no longer holds the conversation's lease: another one carries on."""


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
    received_at: float = 0.0
    sent_batches: int = 0
    sending_at: float | None = None
    safety: bool = False
    forget: bool = False  # handling it deleted the person (in memory only)


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

    def __init__(self, url: str, upgrade: bool = True):
        # hide_parameters: SQLAlchemy's errors would otherwise quote the stored
        # message in their text, and errors get logged.
        self.engine: Engine = create_engine(database_url(url), pool_pre_ping=True,
                                            hide_parameters=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if upgrade:  # a no-op under the lock when the schema is current
            migrate.upgrade(self.engine)
        self.handoffs = Handoffs(self.engine)
        self.operators = Operators(self.engine)
        self.outbox = Outbox(self.engine)

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
             .where(inbox.c.status.in_(UNFINISHED), inbox.c.next_try_at <= now)
             .group_by(inbox.c.conv_key).order_by("first").limit(limit))
        with self.engine.connect() as conn:
            return [r.conv_key for r in conn.execute(q)]

    def next_event(self, key: str, now: float, settle: float = 0.0) -> QueuedEvent | None:
        """The conversation's earliest due event, once it has waited `settle` seconds.

        Waiting a moment lets events sent together arrive before we pick the earliest.
        """
        q = (select(inbox).where(inbox.c.conv_key == key, inbox.c.status.in_(UNFINISHED))
             .order_by(inbox.c.ts_ms, inbox.c.id).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None or row.next_try_at > now or row.received_at > now - settle:
            return None
        return QueuedEvent(row.event_id, row.conv_key, row.ts_ms, row.inbound, row.delivery,
                           row.status, row.outbound, row.attempts, row.received_at,
                           row.sent_batches, row.sending_at, bool(row.safety))

    def decide(self, ev: QueuedEvent, owner: str | None, conv: ConvState | None, outbound: Any, *,
               safety: bool = False, effects: Callable[[Connection], None] | None = None,
               forget: bool = False) -> None:
        """Save the new state, what else the decision wrote, and the reply, in one transaction.

        `effects` writes the rest (transcript, handoff, audit, outbox) on the same
        connection; `forget` deletes the conversation instead of saving it. Raises
        LeaseLost (and writes nothing) if `owner` no longer holds the lease.
        """
        with self.engine.begin() as conn:
            if owner is not None:
                self._hold(conn, ev.conv_key, owner)
            if effects is not None:
                effects(conn)
            if forget:
                self._forget(conn, ev.conv_key)
            elif conv is not None:
                conn.execute(update(conversations).where(conversations.c.key == ev.conv_key)
                             .values(**_conv_row(conv)))
            conn.execute(update(inbox).where(inbox.c.event_id == ev.event_id,
                                             inbox.c.status == "pending")
                         .values(status="decided", outbound=outbound, inbound=None,
                                 safety=safety))

    def sending(self, ev: QueuedEvent, owner: str | None, now: float) -> None:
        """Record that a send begins: found after a crash, its outcome is unknown."""
        with self.engine.begin() as conn:
            if owner is not None:
                self._hold(conn, ev.conv_key, owner)
            conn.execute(update(inbox).where(inbox.c.event_id == ev.event_id).values(
                status="sending", sending_at=now, attempts=inbox.c.attempts + 1))

    def finish(self, ev: QueuedEvent, owner: str | None, status: str = "done",
               error: str | None = None, forget: bool = False) -> None:
        """Mark an event done (or failed), dropping everything it carried; needs the lease.

        `forget`: the event deleted its person; it keeps no link to them either
        (its conversation row is gone, so there is no lease to hold).
        """
        values: dict[str, Any] = {"status": status, "inbound": None, "delivery": None,
                                  "outbound": None, "error": error[:500] if error else None}
        with self.engine.begin() as conn:
            if forget:
                values["conv_key"] = FORGOTTEN
                conn.execute(delete(conversations).where(conversations.c.key == ev.conv_key,
                                                         conversations.c.flow.is_(None)))
            elif owner is not None:
                self._hold(conn, ev.conv_key, owner)
            conn.execute(update(inbox).where(inbox.c.event_id == ev.event_id).values(**values))

    def retry_later(self, ev: QueuedEvent, owner: str | None, at: float, error: str, *, sent: int = 0,
                    unknown: bool = False, delivery: dict[str, Any] | None = None) -> None:
        """Try again at `at`, from batch `sent` on; `unknown`: the last send may have arrived.

        `delivery` replaces the channel's data (a channel drops a refused reply token).
        """
        values: dict[str, Any] = {
            "status": "sending" if unknown else ("decided" if ev.status != "pending"
                                                 else "pending"),
            "next_try_at": at, "error": error[:500], "sent_batches": sent}
        if delivery is not None:
            values["delivery"] = delivery
        with self.engine.begin() as conn:
            if owner is not None:
                self._hold(conn, ev.conv_key, owner)
            conn.execute(update(inbox).where(inbox.c.event_id == ev.event_id).values(**values))

    def finished(self, event_id: str) -> bool:
        """Whether an event has been handled (done or failed)."""
        with self.engine.connect() as conn:
            status = conn.execute(select(inbox.c.status).where(inbox.c.event_id == event_id)).scalar()
        return status in ("done", "failed")

    def stuck(self, before: float) -> list[QueuedEvent]:
        """Unfinished events received before `before` that staff were not yet told of."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(inbox).where(
                inbox.c.status.in_(UNFINISHED), inbox.c.received_at < before,
                inbox.c.alerted.is_(False))).all()
        return [QueuedEvent(r.event_id, r.conv_key, r.ts_ms, None, None, r.status, None,
                            r.attempts, r.received_at) for r in rows]

    def mark_alerted(self, event_ids: list[str]) -> None:
        """Remember that staff were told of these stuck events."""
        with self.engine.begin() as conn:
            conn.execute(update(inbox).where(inbox.c.event_id.in_(event_ids)).values(alerted=True))

    def stuck_conversations(self, before: float) -> list[dict[str, Any]]:
        """Conversations with an answer undelivered since before `before`, oldest first."""
        q = (select(inbox.c.conv_key, func.min(inbox.c.received_at).label("since"),
                    func.max(inbox.c.attempts).label("attempts"))
             .where(inbox.c.status.in_(UNFINISHED), inbox.c.received_at < before)
             .group_by(inbox.c.conv_key).order_by("since"))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

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
        with self.engine.begin() as conn:
            self._forget(conn, key)

    def _forget(self, conn: Connection, key: str) -> None:
        """Delete the conversation, its transcript and handoffs; keep finished event ids unlinked.

        A finished event keeps only its id (for deduplication), no longer tied to the
        person; an event not yet handled stays, and is answered as a new conversation.
        """
        self.handoffs.forget(key, conn)
        conn.execute(update(inbox).where(inbox.c.conv_key == key,
                                         inbox.c.status.in_(("done", "failed")))
                     .values(conv_key=FORGOTTEN))
        conn.execute(delete(local_messages).where(local_messages.c.conv_key == key))
        conn.execute(delete(conversations).where(conversations.c.key == key))

    # -- the lease: one worker at a time per conversation ----------------------

    def acquire(self, key: str, owner: str, seconds: float, now: float) -> bool:
        """Take (or renew) the conversation's lease if it is free, ours, or expired."""
        with self.engine.begin() as conn:
            conn.execute(self._insert(conversations).values(key=key, answers={}, history=[],
                                                            flags={})
                         .on_conflict_do_nothing(index_elements=["key"]))
            got = conn.execute(update(conversations).where(and_(
                conversations.c.key == key,
                or_(conversations.c.lease_owner.is_(None), conversations.c.lease_owner == owner,
                    conversations.c.lease_until < now)))
                .values(lease_owner=owner, lease_until=now + seconds))
            return got.rowcount == 1

    def renew(self, key: str, owner: str, seconds: float, now: float) -> bool:
        """Extend a lease `owner` holds; False if it is no longer theirs."""
        with self.engine.begin() as conn:
            return conn.execute(update(conversations).where(
                conversations.c.key == key, conversations.c.lease_owner == owner)
                .values(lease_until=now + seconds)).rowcount == 1

    def _hold(self, conn: Connection, key: str, owner: str) -> None:
        """Inside a transaction: make sure `owner` still holds the lease, and lock the row."""
        held = conn.execute(update(conversations).where(
            conversations.c.key == key, conversations.c.lease_owner == owner)
            .values(lease_owner=owner)).rowcount
        if held != 1:
            raise LeaseLost(key)

    def holds(self, key: str, owner: str) -> bool:
        """Whether `owner` holds the conversation's lease now."""
        with self.engine.connect() as conn:
            return conn.execute(select(conversations.c.key).where(
                conversations.c.key == key, conversations.c.lease_owner == owner)).first() is not None

    def save_leased(self, key: str, owner: str, conv: ConvState,
                    effects: Callable[[Connection], None] | None = None) -> None:
        """Store a conversation's state (and what `effects` writes) while holding its lease."""
        with self.engine.begin() as conn:
            self._hold(conn, key, owner)
            if effects is not None:
                effects(conn)
            conn.execute(update(conversations).where(conversations.c.key == key)
                         .values(**_conv_row(conv)))

    def release(self, key: str, owner: str) -> None:
        """Give the lease back; drop the row if it only ever held a lease (a deleted person)."""
        waiting = select(inbox.c.id).where(inbox.c.conv_key == key,
                                           inbox.c.status.in_(UNFINISHED)).exists()
        with self.engine.begin() as conn:
            conn.execute(delete(conversations).where(
                conversations.c.key == key, conversations.c.lease_owner == owner,
                conversations.c.flow.is_(None), ~waiting))
            conn.execute(update(conversations).where(
                conversations.c.key == key, conversations.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None))


def _conv_row(conv: ConvState) -> dict[str, Any]:
    return {"flow": conv.flow, "state": conv.state, "answers": conv.answers,
            "history": conv.history, "flags": conv.flags,
            "last_active_ms": int(conv.last_active.timestamp() * 1000)
            if conv.last_active else None}
