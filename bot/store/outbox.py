"""Calls to other services that a decision asks for, made after it commits.

An entry is written in the same transaction as the decision that wants it, so a
crash can neither lose it nor make it twice. A worker claims a due entry by
moving its next try into the future (so no other worker takes it meanwhile),
carries it out, and deletes it; a failure is tried again later. An entry whose
worker died mid-call is tried again: delivery to Slack is at-least-once.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from .schema import outbox

CLAIM_SECONDS = 60.0  # a claimed entry is left alone this long


@dataclass(frozen=True)
class Entry:
    """One call to make: its kind, what it needs, and how often it failed."""

    id: int
    kind: str
    payload: dict[str, Any]
    created_at: float
    attempts: int


class Outbox:
    """The queue of calls to Slack and to platform profile APIs."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, conn: Connection, kind: str, payload: dict[str, Any]) -> None:
        """Queue a call inside the caller's transaction."""
        conn.execute(insert(outbox).values(kind=kind, payload=payload, created_at=time.time(),
                                           attempts=0, next_try_at=0.0))

    def claim(self, now: float, limit: int = 10) -> list[Entry]:
        """Due entries, each now held by this caller for CLAIM_SECONDS."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(outbox).where(outbox.c.next_try_at <= now)
                                .order_by(outbox.c.id).limit(limit)).all()
        claimed = []
        for row in rows:
            with self.engine.begin() as conn:
                got = conn.execute(update(outbox).where(
                    outbox.c.id == row.id, outbox.c.next_try_at == row.next_try_at)
                    .values(next_try_at=now + CLAIM_SECONDS)).rowcount
            if got:
                claimed.append(Entry(row.id, row.kind, dict(row.payload), row.created_at,
                                     row.attempts))
        return claimed

    def done(self, entry_id: int) -> None:
        """The call was made (or given up): forget it."""
        with self.engine.begin() as conn:
            conn.execute(delete(outbox).where(outbox.c.id == entry_id))

    def retry(self, entry_id: int, at: float, error: str) -> None:
        """The call failed: try again at `at`."""
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == entry_id).values(
                attempts=outbox.c.attempts + 1, next_try_at=at, error=error[:500]))

    def pending(self) -> int:
        """How many calls wait (for tests and the console)."""
        with self.engine.connect() as conn:
            return len(conn.execute(select(outbox.c.id)).all())
