"""Handoffs to staff and the transcript, behind one small interface."""
from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import (Connection, Engine, and_, bindparam, delete, func, insert, or_, select,
                        update)
from sqlalchemy import text as sql_text

from .schema import audit, handoffs, messages

OPEN = ("waiting", "claimed")


@dataclass(frozen=True)
class Handoff:
    """A person's request for a human, as it stands."""

    id: int
    conv_key: str
    status: str
    priority: int
    requested_at: float
    claimed_by: str | None
    claimed_at: float | None
    display_name: str | None = None


@dataclass(frozen=True)
class Line:
    """One line of a transcript."""

    id: int
    at: float
    direction: str
    text: str
    operator: str | None
    status: str
    retry_key: str | None
    error: str | None
    handoff_id: int | None


def _handoff(row: Any) -> Handoff:
    return Handoff(row.id, row.conv_key, row.status, row.priority, row.requested_at,
                   row.claimed_by, row.claimed_at, row.display_name)


@functools.lru_cache(maxsize=32)
def _lines_insert(count: int) -> Any:
    """One INSERT of `count` transcript lines of one conversation, built once per count.

    A turn writes two or three lines; as one statement with bound parameters it
    costs a fraction of an executemany (psycopg's pipeline). It is textual SQL:
    SQLAlchemy cannot cache the compiled form of a multi-row insert() construct
    ("no key"), so it compiled one for every turn, a tenth of a turn's CPU."""
    c = messages.c
    rows = ", ".join(f"(:conv_key, :handoff_id, :at, :direction_{i}, :text_{i}, NULL, 'sent', "
                     "NULL, NULL)" for i in range(count))
    sql = sql_text(f"INSERT INTO {messages.name} (conv_key, handoff_id, at, direction, text, "
               f"operator, status, retry_key, error) VALUES {rows}")
    return sql.bindparams(
        bindparam("conv_key", type_=c.conv_key.type), bindparam("handoff_id", type_=c.handoff_id.type),
        bindparam("at", type_=c.at.type),
        *(bindparam(f"{name}_{i}", type_=c[name].type)
          for i in range(count) for name in ("direction", "text")))


class Handoffs:
    """The queue of requests, the claims on them, and what was said."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @contextlib.contextmanager
    def _tx(self, conn: Connection | None) -> Iterator[Connection]:
        """The caller's transaction, or a new one: lets a decision write everything at once."""
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as new:
                yield new

    # -- the queue -------------------------------------------------------------

    def open_for(self, key: str, conn: Connection | None = None) -> Handoff | None:
        """The conversation's open handoff (waiting or claimed), if any."""
        with self._tx(conn) as conn:
            row = conn.execute(select(handoffs).where(handoffs.c.conv_key == key,
                                                      handoffs.c.status.in_(OPEN))
                               .order_by(handoffs.c.id.desc()).limit(1)).first()
        return _handoff(row) if row else None

    def get(self, handoff_id: int, conn: Connection | None = None) -> Handoff | None:
        """One handoff by id."""
        with self._tx(conn) as conn:
            row = conn.execute(select(handoffs).where(handoffs.c.id == handoff_id)).first()
        return _handoff(row) if row else None

    def request(self, key: str, priority: int, now: float | None = None,
                conn: Connection | None = None) -> tuple[Handoff, bool]:
        """Put the conversation in the queue; return its handoff and whether it is new."""
        with self._tx(conn) as conn:
            existing = self.open_for(key, conn)
            if existing:
                return existing, False
            new_id = conn.execute(insert(handoffs).values(
                conv_key=key, status="waiting", priority=priority,
                requested_at=time.time() if now is None else now).returning(handoffs.c.id)).scalar_one()
            new = self.get(new_id, conn)
        assert new is not None
        return new, True

    def queue(self) -> list[Handoff]:
        """Open handoffs: waiting ones by priority then waiting time, then the claimed ones."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(handoffs).where(handoffs.c.status.in_(OPEN))).all()
        found = [_handoff(r) for r in rows]
        return sorted(found, key=lambda h: (h.status != "waiting", -h.priority, h.requested_at))

    def waiting(self) -> int:
        """How many requests wait for staff."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(handoffs)
                                    .where(handoffs.c.status == "waiting")).scalar_one())

    def ahead_of(self, handoff: Handoff, conn: Connection | None = None) -> int:
        """How many waiting requests staff will take before this one."""
        with self._tx(conn) as conn:
            rows = conn.execute(select(handoffs).where(handoffs.c.status == "waiting")).all()
        waiting = sorted((_handoff(r) for r in rows), key=lambda h: (-h.priority, h.requested_at))
        return next((i for i, h in enumerate(waiting) if h.id == handoff.id), len(waiting))

    def claim(self, handoff_id: int, operator: str, takeover: bool = False) -> str:
        """Claim atomically: 'claimed', 'taken_over', 'yours', 'held' (by another) or 'ended'."""
        now = time.time()
        allowed = handoffs.c.status == "waiting"
        if takeover:
            allowed = or_(allowed, handoffs.c.status == "claimed")
        with self.engine.begin() as conn:
            current = conn.execute(select(handoffs).where(handoffs.c.id == handoff_id)).first()
            if current is None or current.status not in OPEN:
                return "ended"
            if current.status == "claimed" and current.claimed_by == operator:
                return "yours"
            got = conn.execute(update(handoffs).where(and_(
                handoffs.c.id == handoff_id, allowed,
                handoffs.c.status == current.status,
                or_(handoffs.c.claimed_by.is_(None), handoffs.c.claimed_by == current.claimed_by)))
                .values(status="claimed", claimed_by=operator, claimed_at=now)).rowcount
        if not got:
            return "held"
        return "taken_over" if current.status == "claimed" else "claimed"

    def end(self, handoff_id: int, status: str, by: str, conn: Connection | None = None) -> bool:
        """Return to the bot, close, or cancel an open handoff; False if it had already ended."""
        with self._tx(conn) as conn:
            return conn.execute(update(handoffs).where(handoffs.c.id == handoff_id,
                                                       handoffs.c.status.in_(OPEN))
                                .values(status=status, ended_at=time.time(), ended_by=by)).rowcount == 1

    def raise_priority(self, handoff_id: int, priority: int, conn: Connection | None = None) -> None:
        """Move a request up the queue (crisis and danger words)."""
        with self._tx(conn) as conn:
            conn.execute(update(handoffs).where(handoffs.c.id == handoff_id,
                                                handoffs.c.priority < priority)
                         .values(priority=priority))

    def set_display_name(self, handoff_id: int, name: str) -> None:
        """Keep the person's display name (only when CONSOLE_SHOW_PROFILE is on)."""
        with self.engine.begin() as conn:
            conn.execute(update(handoffs).where(handoffs.c.id == handoff_id).values(display_name=name))

    # -- the transcript ----------------------------------------------------------

    def record(self, key: str, direction: str, text: str, at: float, *, handoff_id: int | None = None,
               operator: str | None = None, status: str = "sent", retry_key: str | None = None,
               error: str | None = None, conn: Connection | None = None) -> int:
        """Add one line to the conversation's transcript."""
        with self._tx(conn) as conn:
            return int(conn.execute(insert(messages).values(
                conv_key=key, handoff_id=handoff_id, at=at, direction=direction, text=text,
                operator=operator, status=status, retry_key=retry_key, error=error)
                .returning(messages.c.id)).scalar_one())

    def record_many(self, conn: Connection, key: str, lines: list[tuple[str, str]], at: float,
                    handoff_id: int | None) -> None:
        """Add (direction, text) lines to the transcript in one statement."""
        if not lines:
            return
        params: dict[str, Any] = {"conv_key": key, "handoff_id": handoff_id, "at": at}
        for i, (direction, text) in enumerate(lines):
            params[f"direction_{i}"], params[f"text_{i}"] = direction, text
        conn.execute(_lines_insert(len(lines)), params)

    def transcript(self, key: str, after: int = 0) -> list[Line]:
        """The conversation's lines after id `after`, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(messages).where(messages.c.conv_key == key,
                                                       messages.c.id > after)
                                .order_by(messages.c.id)).all()
        return [Line(r.id, r.at, r.direction, r.text, r.operator, r.status, r.retry_key, r.error,
                     r.handoff_id) for r in rows]

    def line(self, line_id: int) -> Line | None:
        """One transcript line by id."""
        with self.engine.connect() as conn:
            r = conn.execute(select(messages).where(messages.c.id == line_id)).first()
        return Line(r.id, r.at, r.direction, r.text, r.operator, r.status, r.retry_key, r.error,
                    r.handoff_id) if r else None

    def mark(self, line_id: int, status: str, error: str | None = None) -> None:
        """Record whether a staff reply reached LINE."""
        with self.engine.begin() as conn:
            conn.execute(update(messages).where(messages.c.id == line_id)
                         .values(status=status, error=error))

    # -- audit, retention, deletion ----------------------------------------------

    def audit(self, operator: str | None, action: str, key: str | None = None,
              handoff_id: int | None = None, detail: str | None = None,
              conn: Connection | None = None) -> None:
        """Record who did what, when; never message text."""
        with self._tx(conn) as conn:
            conn.execute(insert(audit).values(at=time.time(), operator=operator, action=action,
                                              conv_key=key, handoff_id=handoff_id, detail=detail))

    def audit_log(self, key: str | None = None) -> list[Any]:
        """The audit rows, oldest first (of one conversation if `key` is given)."""
        with self.engine.connect() as conn:
            q = select(audit).order_by(audit.c.id)
            if key is not None:
                q = q.where(audit.c.conv_key == key)
            return list(conn.execute(q).all())

    def purge(self, before: float) -> int:
        """Delete transcript lines older than `before`, and handoffs that ended before it."""
        with self.engine.begin() as conn:
            n = conn.execute(delete(messages).where(messages.c.at < before)).rowcount
            conn.execute(delete(handoffs).where(handoffs.c.status.notin_(OPEN),
                                                handoffs.c.ended_at < before))
        return n

    def pseudonymize(self, key: str, pseudonym: str, conn: Connection | None = None) -> None:
        """Keep the audit log, but no longer linked to a deleted conversation."""
        with self._tx(conn) as conn:
            conn.execute(update(audit).where(audit.c.conv_key == key).values(conv_key=pseudonym))

    def forget(self, key: str, conn: Connection | None = None) -> None:
        """Delete the transcript and handoffs of a conversation."""
        with self._tx(conn) as conn:
            conn.execute(delete(messages).where(messages.c.conv_key == key))
            conn.execute(delete(handoffs).where(handoffs.c.conv_key == key))
