"""A worker's turn at a conversation: read its next event, decide, write it all at once.

One SELECT reads the conversation's earliest unfinished event together with
the conversation (state and lease) and its open handoff; the caller decides;
then the turn writes the decision, the lease and "sending" (or "done", when
there is nothing to send) in one transaction and commits (or, one of a group's
turns, see `slots.py`, leaves the commit to the group). The lease is
taken *for that event*: finishing the event frees it, so the send's outcome is
recorded by one UPDATE and no separate release is needed.

The writes check what the decision was based on, so the read and the writes
act as one step. The event's UPDATE requires the status it read; the
conversation's upsert requires the lease as read (every change of hands
writes a new `lease_until`, see `upsert_statement`). If either changed, the
turn raises `Contended` and writes nothing. On PostgreSQL the turn also runs
at REPEATABLE READ, which refuses a write to a row another transaction
changed since the read (in a group: since the group's first read, a few
milliseconds earlier). On SQLite the read and the decision take no lock: the
turn takes the machine's write lock (`WriterLock`, then BEGIN IMMEDIATE) only
to write (`Turn.lock`), so the webhook's inserts never wait for a decision
being made, only for its writes.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import (ColumnElement, Connection, Float, String, and_, bindparam, exists, func,
                        literal_column, or_, select, true, update)
from sqlalchemy.exc import DBAPIError

from ..engine.types import ConvState
from .handoffs import OPEN, Handoff
from .schema import conversations, handoffs, inbox

UNFINISHED = ("pending", "decided", "sending")
FINISHED = ("done", "failed")
FORGOTTEN = "-"  # the conv_key of a finished event whose person asked to be forgotten


def one_of(column: Any, values: tuple[str, ...]) -> ColumnElement[bool]:
    """`column IN ('a', 'b')`, the values written into the SQL.

    `in_()` of a tuple is an "expanding" parameter, which SQLAlchemy renders into
    the statement again at every execution; the read below has four.
    """
    if not all(re.fullmatch(r"[a-z_]+", v) for v in values):  # our constants, never input
        raise ValueError(f"not a plain status: {values!r}")
    return column.in_([literal_column(f"'{v}'") for v in values])


# PostgreSQL's "another transaction changed this first" (serialization failure, deadlock).
_CONTENDED = {"40001", "40P01"}


class Contended(Exception):
    """Another transaction changed the conversation or its event first: nothing was written."""


def contended(exc: BaseException) -> bool:
    """Whether a database error means another writer came first (try again, not a fault)."""
    orig = getattr(exc, "orig", None)
    return isinstance(exc, DBAPIError) and getattr(orig, "sqlstate", None) in _CONTENDED


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


def queued(row: Any) -> QueuedEvent:
    """An inbox row as a QueuedEvent."""
    return QueuedEvent(row.event_id, row.conv_key, row.ts_ms, row.inbound, row.delivery,
                       row.status, row.outbound, row.attempts, row.received_at,
                       row.sent_batches, row.sending_at, bool(row.safety))


def conv_row(conv: ConvState) -> dict[str, Any]:
    """A conversation's state as the columns that store it."""
    return {"flow": conv.flow, "state": conv.state, "answers": conv.answers,
            "history": conv.history, "flags": conv.flags,
            "last_active_ms": int(conv.last_active.timestamp() * 1000)
            if conv.last_active else None}


def conv_state(flow: str | None, state: str | None, answers: Any, history: Any,
               last_active_ms: int | None, flags: Any) -> ConvState | None:
    """The stored conversation, or None if it never started."""
    if flow is None:
        return None
    last = (datetime.fromtimestamp(last_active_ms / 1000, timezone.utc)
            if last_active_ms is not None else None)
    return ConvState(flow, state or "", dict(answers or {}), list(history or []), last,
                     dict(flags or {}))


@dataclass
class Turn:
    """What a turn read, and the writes that end it. `event` is None if there is nothing to do:
    `held` then says whether another worker has the conversation, `wait_until` whether its
    next event is due later."""

    conn: Connection
    key: str
    owner: str
    lease: float  # seconds the lease lasts from each write of the turn
    upsert: Callable[[bool], Any]  # with_state -> `upsert_statement`'s statement
    forgetter: Callable[[Connection, str], None]
    locker: Callable[[], None] | None = None  # SQLite: takes the write lock (see `lock`)
    event: QueuedEvent | None = None
    conv: ConvState | None = None
    handoff: Handoff | None = None
    waiting: int = 0          # requests waiting for staff
    more: int = 0             # unfinished events of this conversation after this one
    held: bool = False
    wait_until: float | None = None
    committed: bool = False
    read_lease: tuple[str | None, float | None] = (None, None)  # the lease as read
    locked: bool = False
    grouped: bool = False  # one of a group's turns: the group commits (`Store.together`)

    def lock(self) -> None:
        """Before the first write: on SQLite, take the write lock (the read and the decision
        ran without it, so that other writers were not kept waiting meanwhile). The writes
        then check that the conversation's lease is as read (see `upsert_statement`)."""
        if not self.locked:
            self.locked = True
            if self.locker is not None:
                self.locker()

    def decide(self, conv: ConvState | None, outbound: Any, *, send: bool, now: float,
               safety: bool = False, forget: bool = False,
               effects: Callable[[Connection], None] | None = None) -> None:
        """Write the decision (state, `effects`, the reply) and "sending" or "done"; commit
        (unless `grouped`: the group commits, see `Store.together`).

        `send`: a reply goes out next, so "sending" is recorded now. Otherwise the
        event is done. `forget`: the conversation is deleted instead of saved.
        """
        ev = self.event
        assert ev is not None
        self.lock()
        if effects is not None:
            effects(self.conn)
        if forget:
            self._lease({})  # staff, or another worker, may have taken it since the read
            self.forgetter(self.conn, self.key)
            if send:  # a bare row keeps the lease while the last answer goes out
                self._lease({})  # (finishing the event deletes it, see `Store.finish`)
        else:
            self._lease(conv_row(conv) if conv is not None else {})
        if send:
            values: dict[str, Any] = {
                "status": "sending", "outbound": outbound, "inbound": None, "safety": safety,
                "sending_at": now, "attempts": ATTEMPT, "sent_batches": 0}
        else:
            values = {"status": "done", "inbound": None, "delivery": None, "outbound": None,
                      "error": None}
            if forget:
                values["conv_key"] = FORGOTTEN
        self._event(values)

    def resume(self, now: float) -> None:
        """An event decided before: hold the lease for it and record "sending" again; commit
        (unless `grouped`)."""
        self._lease({})
        self._event({"status": "sending", "sending_at": now, "attempts": ATTEMPT})

    def finish(self, status: str, error: str | None = None) -> None:
        """End the event without sending (withheld, or no channel for it); commit (unless
        `grouped`)."""
        self._lease({})
        self._event({"status": status, "inbound": None, "delivery": None, "outbound": None,
                     "error": error[:500] if error else None})

    def _lease(self, state: dict[str, Any]) -> None:
        self.lock()
        # From now, not from the turn's start: a slow decision (or a wait for SQLite's
        # write lock) must not leave the lease nearly run out once the answer is on its way.
        lease = {"lease_owner": self.owner, "lease_until": time.time() + self.lease,
                 "lease_event": self.event.event_id if self.event else None}
        row = {"answers": {}, "history": [], "flags": {}, **state, **lease}
        read_owner, read_until = self.read_lease
        done = self.conn.execute(self.upsert(bool(state)), {
            "key": self.key, **row, "read_owner": read_owner, "read_until": read_until,
            "me": self.owner}).rowcount
        if done != 1:  # another worker, or staff, took the conversation since the read
            raise Contended(self.key)

    def _event(self, values: dict[str, Any]) -> None:
        ev = self.event
        assert ev is not None
        stmt = _EVENT_COUNTED if values.pop("attempts", None) is ATTEMPT else _EVENT
        done = self.conn.execute(stmt, {"b_id": ev.event_id, "b_status": ev.status,
                                        **values}).rowcount
        if done != 1:  # another worker took the event since the read
            raise Contended(ev.event_id)
        if not self.grouped:
            self.conn.commit()
        self.committed = True  # (grouped: written; the group commits it, or rolls it back)


# The turn's statements are built once: building them is most of their cost in Python.
# The event's UPDATE takes its SET columns from the parameters it is run with.
ATTEMPT = object()  # in `_event`'s values: count one more attempt
_EVENT = update(inbox).where(inbox.c.event_id == bindparam("b_id"),
                             inbox.c.status == bindparam("b_status"))
_EVENT_COUNTED = _EVENT.values(attempts=inbox.c.attempts + 1)
STATE_COLUMNS = ("flow", "state", "answers", "history", "flags", "last_active_ms")
LEASE_COLUMNS = ("lease_owner", "lease_until", "lease_event")


def upsert_statement(insert: Callable[[Any], Any], with_state: bool) -> Any:
    """INSERT a conversation row ... ON CONFLICT update its lease (and `with_state`, its state),
    if the lease is still as the turn read it; otherwise it writes nothing (no row counted).

    Values come from the parameters it is run with: key, the state columns, the lease,
    and the lease as read (`read_owner`, `read_until`) with the turn's owner (`me`).
    Every change of hands writes a new `lease_until` (taking, renewing, releasing), so
    an unchanged owner and `lease_until` mean nobody acted on the conversation since
    the read; while the turn's owner holds it, only its own heartbeat renews it.
    """
    c = conversations.c
    unchanged = and_(c.lease_owner.is_not_distinct_from(bindparam("read_owner", type_=String)),
                     or_(c.lease_until.is_not_distinct_from(bindparam("read_until", type_=Float)),
                         c.lease_owner == bindparam("me", type_=String)))
    stmt = insert(conversations)
    columns = LEASE_COLUMNS + (STATE_COLUMNS if with_state else ())
    return stmt.on_conflict_do_update(index_elements=["key"],
                                      set_={c: stmt.excluded[c] for c in columns},
                                      where=unchanged).execution_options(preserve_rowcount=True)


def _read_statement() -> Any:
    key = bindparam("key", type_=inbox.c.conv_key.type)
    others = inbox.alias("others")
    stats = (select(func.count().label("n"), func.min(others.c.received_at).label("first"),
                    func.max(others.c.received_at).label("last"))
             .where(others.c.conv_key == key, one_of(others.c.status, UNFINISHED)).subquery())
    leased = inbox.alias("leased")
    lease_busy = exists().where(leased.c.event_id == conversations.c.lease_event,
                                one_of(leased.c.status, UNFINISHED))
    open_id = (select(func.max(handoffs.c.id))
               .where(handoffs.c.conv_key == key, one_of(handoffs.c.status, OPEN)).scalar_subquery())
    waiting = (select(func.count()).select_from(handoffs)
               .where(handoffs.c.status == "waiting").scalar_subquery())
    c, h = conversations.c, handoffs.c
    return (select(inbox, c.key.label("c_key"), c.flow.label("c_flow"), c.state.label("c_state"),
                   c.answers.label("c_answers"), c.history.label("c_history"),
                   c.flags.label("c_flags"), c.last_active_ms.label("c_last"),
                   c.lease_owner.label("c_owner"), c.lease_until.label("c_until"),
                   c.lease_event.label("c_event"), lease_busy.label("c_busy"),
                   h.id.label("h_id"), h.status.label("h_status"), h.priority.label("h_priority"),
                   h.requested_at.label("h_requested"), h.claimed_by.label("h_by"),
                   h.claimed_at.label("h_at"), h.display_name.label("h_name"),
                   waiting.label("waiting"), stats.c.n, stats.c.first, stats.c.last)
            .select_from(inbox.outerjoin(conversations, c.key == inbox.c.conv_key)
                         .outerjoin(handoffs, h.id == open_id).join(stats, true()))
            .where(inbox.c.conv_key == key, one_of(inbox.c.status, UNFINISHED))
            .order_by(inbox.c.ts_ms, inbox.c.id).limit(1))


_READ = _read_statement()


def read(turn: Turn, now: float, reorder: float) -> None:
    """Fill `turn` with the conversation's earliest unfinished event, state, lease and handoff."""
    key = turn.key
    row = turn.conn.execute(_READ, {"key": key}).first()
    if row is None:
        return
    turn.read_lease = (row.c_owner, row.c_until)
    free = (row.c_owner is None or row.c_owner == turn.owner or row.c_until < now
            or (row.c_event is not None and not row.c_busy))
    if not free:
        turn.held = True
        return
    if row.next_try_at > now:
        turn.wait_until = row.next_try_at
        return
    # Arrivals out of timestamp order (an earlier-stamped event came after a later one):
    # give the person's stragglers `reorder` seconds after the latest arrival.
    if reorder > 0 and row.first < row.received_at and now < row.last + reorder:
        turn.wait_until = row.last + reorder
        return
    turn.event = queued(row)
    turn.conv = conv_state(row.c_flow, row.c_state, row.c_answers, row.c_history, row.c_last,
                           row.c_flags)
    if row.h_id is not None:
        turn.handoff = Handoff(row.h_id, key, row.h_status, row.h_priority, row.h_requested,
                               row.h_by, row.h_at, row.h_name)
    turn.waiting, turn.more = int(row.waiting), int(row.n) - 1

