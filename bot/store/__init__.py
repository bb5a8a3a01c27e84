"""Persistence behind one small interface, on SQLite by default and PostgreSQL when set.

The same code serves both: SQLAlchemy Core, and the two dialects' INSERT ... ON
CONFLICT DO NOTHING for deduplication. The schema is managed by Alembic
(`migrate.upgrade`); every write that belongs to a conversation's processing is
guarded by its lease: it happens only while the writer still holds it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import sqlite3
import threading
import time
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from sqlalchemy import (Connection, Engine, and_, bindparam, case, create_engine, delete, event,
                        exists, func, or_, select, update)
from sqlalchemy.exc import DisconnectionError, OperationalError

from ..engine.types import ConvState
from ..forks import reset_after_fork
from ..slots import Slots
from . import migrate
from .handoffs import Handoff, Handoffs, Line
from .operators import Operator, Operators
from .outbox import Outbox
from .schema import conversations, inbox, local_messages, workers
from .turn import (FORGOTTEN, UNFINISHED, Contended, QueuedEvent, Turn, contended, conv_row,
                   conv_state, read, upsert_statement)

__all__ = ["Contended", "Handoff", "Handoffs", "LeaseLost", "Line", "Operator", "Operators",
           "Outbox", "QueuedEvent", "Store", "Turn", "database_url", "FORGOTTEN"]
IDLE_PING = 5.0  # seconds idle after which a pooled connection is tested before use
WAKE_CHANNEL = "bot_inbox"  # PostgreSQL NOTIFY channel: "<store token> <conversation key>"
STEP_ASIDE = 0.05  # SQLite: the longest a worker's write waits for webhooks waiting to write


# Finishing an event, built once (SET columns come from the parameters): every event does it.
_FINISH = update(inbox).where(inbox.c.event_id == bindparam("b_id"))
_FINISH_HELD = _FINISH.where(exists().where(conversations.c.key == bindparam("b_key"),
                                            conversations.c.lease_owner == bindparam("b_owner")))


class _NoLock(contextlib.nullcontext):
    """PostgreSQL: writers need no lock of ours."""

    def urgent(self) -> contextlib.nullcontext:
        return contextlib.nullcontext()


class WriterLock:
    """One SQLite writer at a time among this machine's threads and processes, the
    webhook's first.

    A thread lock, then an flock on a file beside the database, opened once per
    process (a lock taken through a descriptor inherited across a fork would not
    exclude the other process). A process killed while holding it lets it go.

    Acknowledging LINE takes it as `urgent`. While an urgent writer waits, the
    others (the workers' turns and outcomes) step aside for up to `STEP_ASIDE`
    seconds before each write, so that a burst of webhooks is acknowledged at the
    pace of its own inserts, and the workers catch up once it has passed. Urgent
    writers hold a shared flock on a second file while they wait and write; the
    others look for one with an exclusive flock they do not wait for, taken on a
    handle of their own (so that it also sees this process's urgent writers).
    """

    def __init__(self, database: str | None):
        self._thread = threading.Lock()
        self._path = database + ".writer-lock" if database and database != ":memory:" else None
        self._fds: dict[str, int] = {}
        self._pid = 0
        self._urgent = 0  # this process's urgent writers, waiting or writing
        self._count = threading.Lock()
        reset_after_fork(self)

    def __del__(self) -> None:
        if self._pid == os.getpid():
            self._close()

    def _forked(self) -> None:
        """In a new child process: its own handles and thread locks, nobody waiting. (The
        parent's handles are closed here; the parent's locks stay with the parent.)"""
        self._close()
        self._fds, self._pid, self._urgent = {}, os.getpid(), 0
        self._thread, self._count = threading.Lock(), threading.Lock()

    def _close(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)

    def _file(self, which: str) -> int | None:
        """This process's handle: "lock" (the writer's), "urgent" or "probe" (who waits)."""
        if self._path is None:
            return None
        with self._count:
            if self._pid != os.getpid():  # forked without the handler: not the parent's handles
                self._fds, self._pid = {}, os.getpid()
            if which not in self._fds:
                path = self._path if which == "lock" else self._path[:-len("lock")] + "urgent"
                self._fds[which] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            return self._fds[which]

    def __enter__(self) -> None:
        self._step_aside()
        self._acquire()

    def __exit__(self, *_exc: Any) -> None:
        self._release()

    @contextlib.contextmanager
    def urgent(self) -> Iterator[None]:
        """Write first: the others step aside while this waits."""
        fd = self._file("urgent")
        with self._count:
            self._urgent += 1
            if self._urgent == 1 and fd is not None:
                fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            self._acquire()
            try:
                yield
            finally:
                self._release()
        finally:
            with self._count:
                self._urgent -= 1
                if self._urgent == 0 and fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def _step_aside(self) -> None:
        """Wait (a bounded while) until no urgent writer waits, here or in another process."""
        probe = self._file("probe")
        if probe is None:
            return
        deadline = time.monotonic() + STEP_ASIDE
        while True:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.002)
                continue
            fcntl.flock(probe, fcntl.LOCK_UN)
            return

    def _acquire(self) -> None:
        self._thread.acquire()
        try:
            fd = self._file("lock")
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise

    def _release(self) -> None:
        try:
            fd = self._fds.get("lock") if self._pid == os.getpid() else None
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()


# The columns the webhook writes for a new event, in the order `enqueue` gives them.
_INBOX_ROW = ("event_id", "conv_key", "ts_ms", "received_at", "status", "inbound",
              "delivery", "attempts", "next_try_at")


class Due(NamedTuple):
    """A conversation with events due (see `Store.pending`)."""

    key: str
    undecided: int  # its due events not yet decided (status "pending")
    since: float    # since when the first of them has been due (received, or its retry due)


class LeaseLost(Exception):
    """This worker no longer holds the conversation's lease: another one carries on."""


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


def _sqlite_begin(conn: Connection) -> None:
    """A turn's writes begin IMMEDIATE: the write lock first, then the writes (`turn.py`).

    Other transactions keep the driver's own way: it begins before the first write.
    """
    if conn.get_execution_options().get("turn"):
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]


def _checked_in(_dbapi_conn: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _check_alive(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    """Test a connection that sat idle a while before handing it out (a database restart
    drops them all); a busy one is used as it is, saving a round trip per request."""
    if time.monotonic() - record.info.get("idle_since", 0.0) < IDLE_PING:
        return
    try:
        cur = dbapi_conn.cursor()
        cur.execute("SELECT 1")
        cur.close()
        dbapi_conn.rollback()  # psycopg began a transaction: a turn could not set its isolation
    except Exception as exc:  # the pool replaces it with a fresh connection
        raise DisconnectionError() from exc


def _free(owner: str, now: float) -> Any:
    """The lease is free for `owner`: nobody's, theirs, expired, or its event is finished."""
    c = conversations.c
    unfinished = exists().where(inbox.c.event_id == c.lease_event, inbox.c.status.in_(UNFINISHED))
    return or_(c.lease_owner.is_(None), c.lease_owner == owner, c.lease_until < now,
               and_(c.lease_event.is_not(None), ~unfinished))


class Store:
    """Conversations, the inbox, and the per-conversation lease."""

    def __init__(self, url: str, upgrade: bool = True):
        # hide_parameters: SQLAlchemy's errors would otherwise quote the stored
        # message in their text, and errors get logged. The pool's default size is
        # enough: however many threads a process runs, at most DISPATCH_THREADS of
        # them turn or finish at once (`EventHandler.deciding`).
        self.engine: Engine = create_engine(database_url(url), hide_parameters=True)
        event.listen(self.engine, "checkin", _checked_in)
        event.listen(self.engine, "checkout", _check_alive)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        # Tells this store's own wake-up notices from others' (see `enqueue`).
        self.token = secrets.token_hex(6)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps
        # in growing steps (busy_timeout): the hot writes (the webhook's insert, turns,
        # finishing) of every process on this machine queue on a lock instead, and go in
        # as soon as it is free.
        self._writing: Any = (WriterLock(self.engine.url.database)
                              if self.engine.dialect.name == "sqlite" else _NoLock())
        if upgrade:  # a no-op under the lock when the schema is current
            migrate.upgrade(self.engine)
        self._upserts = {with_state: upsert_statement(self._insert, with_state)
                         for with_state in (False, True)}
        self._enqueue = self._enqueue_statements()
        # One webhook stores its events at a time; those that come meanwhile are stored
        # together by the next, with one commit (see `slots.py`): the acknowledgement of
        # each still waits for its own events' commit.
        self._enqueuing = Slots(1)
        self.handoffs = Handoffs(self.engine)
        self.operators = Operators(self.engine)
        self.outbox = Outbox(self.engine)

    def _insert(self, table: Any) -> Any:
        # Each dialect's own INSERT (for ON CONFLICT), imported with the dialect: loading
        # PostgreSQL's package on SQLite would add a tenth of a second to every start.
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert
            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        return sqlite_insert(table)

    # -- the inbox -------------------------------------------------------------

    def _enqueue_statements(self) -> dict[bool, Any]:
        """The webhook's INSERT, without and with a NOTIFY, built once per process:
        SQLAlchemy then finds it compiled in its cache without rebuilding it per request."""
        plain: Any = (self._insert(inbox).on_conflict_do_nothing(index_elements=["event_id"])
                      .returning(inbox.c.event_id, inbox.c.conv_key))
        stored = plain.values({c: bindparam(c) for c in _INBOX_ROW}).cte("stored")
        notify = select(stored.c.event_id, func.pg_notify(
            WAKE_CHANNEL, bindparam("token") + stored.c.conv_key))
        return {False: plain, True: notify}

    def enqueue(self, events: Iterable[QueuedEvent], now: float | None = None,
                notify: bool = False) -> list[str]:
        """Store events durably in one statement; return the ids that were new, once
        committed (with other webhooks' events that came meanwhile, see `slots.py`).

        Redeliveries (ids stored before) are skipped. `notify` (PostgreSQL): wake
        the workers of other processes listening on WAKE_CHANNEL, at commit.
        """
        now = time.time() if now is None else now
        rows: dict[str, dict[str, Any]] = {}
        for ev in events:
            rows.setdefault(ev.event_id, dict(zip(_INBOX_ROW, (
                ev.event_id, ev.conv_key, ev.ts_ms, now, "pending", ev.inbound, ev.delivery,
                0, 0.0))))
        if not rows:
            return []
        params: Any = list(rows.values())
        notify = notify and self.engine.dialect.name == "postgresql"
        stmt = self._enqueue[notify]
        if notify:
            params = [dict(row, token=self.token + " ") for row in params]

        def insert(conn: Connection | None) -> set[str]:
            with contextlib.ExitStack() as stack:
                if conn is None:
                    conn = stack.enter_context(self._inserting())
                return {r.event_id for p in ([params] if not notify else params)
                        for r in conn.execute(stmt, p)}

        new = self._enqueuing.run("enqueue", insert, self._inserting)
        return [event_id for event_id in rows if event_id in new]

    @contextlib.contextmanager
    def _inserting(self) -> Iterator[Connection]:
        with self._writing.urgent(), self.engine.begin() as conn:
            yield conn

    def pending_keys(self, now: float, limit: int = 50, waited: float = 0.0) -> list[str]:
        """Conversations with events due, oldest event first; with `waited`, only events
        that have been due (and received) that many seconds."""
        return [due.key for due in self.pending(now, limit, waited)]

    def pending(self, now: float, limit: int = 50, waited: float = 0.0) -> list[Due]:
        """As `pending_keys`, with how many of each conversation's due events are not yet
        decided (status "pending"), and since when the first of them has been due
        (received, or its retry due)."""
        since = now - waited
        due = [inbox.c.status.in_(UNFINISHED), inbox.c.next_try_at <= since]
        if waited:
            due.append(inbox.c.received_at <= since)
        undecided = func.sum(case((inbox.c.status == "pending", 1), else_=0))
        became_due = case((inbox.c.next_try_at > inbox.c.received_at, inbox.c.next_try_at),
                          else_=inbox.c.received_at)
        q = (select(inbox.c.conv_key, func.min(inbox.c.ts_ms).label("first"),
                    undecided.label("n"), func.min(became_due).label("since"))
             .where(*due)
             .group_by(inbox.c.conv_key).order_by("first").limit(limit))
        with self.engine.connect() as conn:
            return [Due(r.conv_key, int(r.n), r.since) for r in conn.execute(q)]

    def next_event(self, key: str, now: float) -> QueuedEvent | None:
        """The conversation's earliest unfinished event, if it is due."""
        q = (select(inbox).where(inbox.c.conv_key == key, inbox.c.status.in_(UNFINISHED))
             .order_by(inbox.c.ts_ms, inbox.c.id).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None or row.next_try_at > now:
            return None
        return QueuedEvent(row.event_id, row.conv_key, row.ts_ms, row.inbound, row.delivery,
                           row.status, row.outbound, row.attempts, row.received_at,
                           row.sent_batches, row.sending_at, bool(row.safety))

    @contextlib.contextmanager
    def turn(self, key: str, owner: str, lease: float, now: float,
             reorder: float = 0.0, group: Connection | None = None) -> Iterator[Turn]:
        """A turn at the conversation (see `turn.py`); rolled back if it began to write and
        did not commit.

        Raises Contended if another transaction changed what it read first. `group`: the
        turn is one of a group's (see `together`), on its connection, which commits (or
        rolls back) them all at once.
        """
        if group is not None:
            yield self._grouped_turn(group, key, owner, lease, now, reorder)
            return
        postgres = self.engine.dialect.name == "postgresql"

        def lock() -> None:  # SQLite: the write lock, taken only once the decision is made
            conn.rollback()  # the read's transaction (pysqlite began none for a SELECT)
            try:
                locks.enter_context(self._writing)  # released after the rollback below
                conn.execution_options(turn=True).begin()  # BEGIN IMMEDIATE
            except (sqlite3.Error, OSError) as exc:
                # Raised by the driver (or the lock file) outside SQLAlchemy's wrapping: as
                # a database error, so that the event waits and is tried again, as when the
                # database cannot be reached, instead of being answered with the fallback.
                raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc

        with self.engine.connect() as conn, contextlib.ExitStack() as locks:
            if postgres:
                conn.execution_options(isolation_level="REPEATABLE READ")
            t = Turn(conn, key, owner, lease, self._upserts.__getitem__, self._forget,
                     None if postgres else lock)
            clean = False
            try:
                conn.begin()
                read(t, now, reorder)
                yield t
                clean = True
            except Exception as exc:
                if contended(exc):
                    raise Contended(key) from exc
                raise
            finally:
                if not t.committed:
                    # A turn that only read (found nothing to do) ends with COMMIT: at every
                    # ROLLBACK psycopg drops all the statements prepared on the connection,
                    # and PostgreSQL would parse and plan the turn's read again and again.
                    if clean and not t.locked:
                        conn.commit()
                    else:
                        conn.rollback()

    def _grouped_turn(self, conn: Connection, key: str, owner: str, lease: float, now: float,
                      reorder: float) -> Turn:
        t = Turn(conn, key, owner, lease, self._upserts.__getitem__, self._forget, grouped=True)
        read(t, now, reorder)
        return t

    @property
    def groups_turns(self) -> bool:
        """Whether turns may share a transaction (`together`). Not on SQLite: a turn there
        reads and decides before it takes the write lock, and taking it begins anew."""
        return self.engine.dialect.name == "postgresql"

    @contextlib.contextmanager
    def together(self, turns: bool = False) -> Iterator[Connection]:
        """One transaction for several threads' turns (`turns`, PostgreSQL only: at the
        turns' isolation level) or finishes (see `slots.py`): committed on leaving, or
        rolled back, all of it, if an error escapes."""
        if turns and not self.groups_turns:
            raise ValueError("turns share a transaction only on PostgreSQL")
        with contextlib.ExitStack() as stack:
            if not turns:
                stack.enter_context(self._writing)
            conn = stack.enter_context(self.engine.connect())
            if turns:
                conn.execution_options(isolation_level="REPEATABLE READ")
            try:
                with conn.begin():
                    yield conn
            except Exception as exc:
                if contended(exc):
                    raise Contended("a group") from exc
                raise

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
                             .values(**conv_row(conv)))
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
               error: str | None = None, forget: bool = False,
               conn: Connection | None = None) -> None:
        """Mark an event done (or failed), dropping everything it carried; needs the lease.

        One UPDATE: the lease was taken for this event, so finishing it frees the
        lease too. `forget`: the event deleted its person; it keeps no link to
        them either (its conversation row is gone, so there is no lease to hold).
        `conn`: one of a group's finishes (see `together`), committed with theirs.
        LeaseLost means nothing was written.
        """
        values: dict[str, Any] = {"b_id": ev.event_id, "status": status, "inbound": None,
                                  "delivery": None, "outbound": None,
                                  "error": error[:500] if error else None}
        stmt = _FINISH
        with contextlib.ExitStack() as stack:
            if conn is None:
                stack.enter_context(self._writing)
                conn = stack.enter_context(self.engine.begin())
            if forget:
                values["conv_key"] = FORGOTTEN
            elif owner is not None:
                stmt = _FINISH_HELD
                values.update(b_key=ev.conv_key, b_owner=owner)
            if conn.execute(stmt, values).rowcount != 1:
                raise LeaseLost(ev.conv_key)  # (first: nothing is written then)
            if forget:
                conn.execute(delete(conversations).where(conversations.c.key == ev.conv_key,
                                                         conversations.c.flow.is_(None)))

    def retry_later(self, ev: QueuedEvent, owner: str | None, at: float, error: str, *, sent: int = 0,
                    unknown: bool = False, delivery: dict[str, Any] | None = None) -> None:
        """Try again at `at`, from batch `sent` on; `unknown`: the last send may have arrived.

        An earlier try's unknown outcome (the event was read as "sending") stays unknown
        when this try failed for sure: that failure says nothing of the earlier one,
        whose reply may have used the token. `delivery` replaces the channel's data (a
        channel drops a refused reply token).
        """
        values: dict[str, Any] = {
            "status": "sending" if unknown or ev.status == "sending" else (
                "decided" if ev.status != "pending" else "pending"),
            "next_try_at": at, "error": error[:500], "sent_batches": sent}
        if delivery is not None:
            values["delivery"] = delivery
        with self.engine.begin() as conn:
            if owner is not None:  # and give the lease back: the retry is anyone's to make
                released = conn.execute(update(conversations).where(
                    conversations.c.key == ev.conv_key, conversations.c.lease_owner == owner)
                    .values(lease_owner=None, lease_until=time.time(), lease_event=None)).rowcount
                if released != 1:
                    raise LeaseLost(ev.conv_key)
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

    # -- worker processes ----------------------------------------------------

    def worker_seen(self, name: str, now: float, forget_before: float) -> None:
        """A worker process says it is alive; rows of workers gone quiet are deleted."""
        with self.engine.begin() as conn:
            conn.execute(delete(workers).where(workers.c.seen_at < forget_before,
                                               workers.c.name != name))
            conn.execute(self._insert(workers).values(name=name, seen_at=now)
                         .on_conflict_do_update(index_elements=["name"], set_={"seen_at": now}))

    def worker_gone(self, name: str) -> None:
        """A worker process stopped."""
        with self.engine.begin() as conn:
            conn.execute(delete(workers).where(workers.c.name == name))

    def workers_seen_since(self, since: float) -> bool:
        """Whether any worker process said it was alive since `since`."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(workers)
                                .where(workers.c.seen_at >= since)).scalar_one() > 0

    # -- conversations -------------------------------------------------------

    def load(self, key: str) -> ConvState | None:
        """The stored conversation, or None if it never started."""
        with self.engine.connect() as conn:
            row = conn.execute(select(conversations).where(conversations.c.key == key)).first()
        if row is None:
            return None
        return conv_state(row.flow, row.state, row.answers, row.history, row.last_active_ms,
                          row.flags)

    def save(self, key: str, conv: ConvState) -> None:
        """Store a conversation's state, creating it if needed."""
        with self.engine.begin() as conn:
            conn.execute(self._insert(conversations).values(key=key, answers={}, history=[],
                                                            flags={})
                         .on_conflict_do_nothing(index_elements=["key"]))
            conn.execute(update(conversations).where(conversations.c.key == key)
                         .values(**conv_row(conv)))

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
            got = conn.execute(update(conversations).where(
                conversations.c.key == key, _free(owner, now))
                .values(lease_owner=owner, lease_until=now + seconds, lease_event=None))
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
                         .values(**conv_row(conv)))

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
                .values(lease_owner=None, lease_until=time.time(), lease_event=None))

