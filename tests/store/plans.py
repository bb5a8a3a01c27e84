"""Query plans: record the SQL an app runs, EXPLAIN it, and find full scans of a table.

Shared by `tests/store/test_query_plans.py` and `scripts/bench.py`. Nothing
here knows which queries the store runs: they are recorded as they happen, so
a changed or new query is checked without editing a list.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from sqlalchemy import Engine, event

from bot.store.schema import metadata

TABLES = frozenset(metadata.tables)
_VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


@dataclass
class Recorder:
    """The distinct statements an engine ran (first parameters kept), in first-seen order."""

    seen: dict[str, Any] = field(default_factory=dict)

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any,
                 context: Any, executemany: bool) -> None:
        if not statement.lstrip().upper().startswith(_VERBS) or statement in self.seen:
            return
        if executemany and parameters:
            parameters = parameters[0]
        self.seen[statement] = parameters


@contextlib.contextmanager
def recording(engine: Engine) -> Iterator[Recorder]:
    """Record every data statement `engine` runs inside the block."""
    recorder = Recorder()
    event.listen(engine, "before_cursor_execute", recorder)
    try:
        yield recorder
    finally:
        event.remove(engine, "before_cursor_execute", recorder)


def explain(engine: Engine, statement: str, parameters: Any, *,
            prefer_indexes: bool = False) -> list[str]:
    """The plan of one statement as the database prints it (nothing is executed).

    `prefer_indexes` (PostgreSQL): turn sequential scans off for this plan, so that
    a table of a few rows shows the index a large one would use; a "Seq Scan"
    that remains means no index fits the query.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            lines = [str(r[-1]) for r in rows]
        else:
            if prefer_indexes:
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
            lines = [str(r[0]) for r in rows]
        conn.rollback()
    return lines


def full_scans(dialect: str, plan: list[str]) -> list[str]:
    """The plan's lines that read a whole table of ours (or the whole of one of its indexes)."""
    found = []
    for i, line in enumerate(plan):
        if dialect == "sqlite":
            m = re.match(r"\s*SCAN (\w+)", line)
            if m and m.group(1) in TABLES:
                found.append(line.strip())
            continue
        m = re.search(r"(Seq Scan|Index Scan|Index Only Scan)(?: Backward)?(?: using \w+)? on (\w+)",
                      line)
        if not m or m.group(2) not in TABLES:
            continue
        if m.group(1) == "Seq Scan" or not _has_index_cond(plan, i):
            found.append(line.strip())
    return found


def _has_index_cond(plan: list[str], i: int) -> bool:
    """Whether the PostgreSQL index scan node on line `i` searches (has an Index Cond)."""
    depth = len(plan[i]) - len(plan[i].lstrip())
    for line in plan[i + 1:]:
        if "->" in line or len(line) - len(line.lstrip()) <= depth:
            return False
        if "Index Cond:" in line:
            return True
    return False


def tables_of(statement: str) -> set[str]:
    """Our tables a statement names."""
    words = set(re.findall(r"\b(\w+)\b", statement.lower()))
    return {t for t in TABLES if t in words}


def shorten(statement: str, width: int = 110) -> str:
    """One line of a statement, for a report."""
    one = " ".join(statement.split())
    return one if len(one) <= width else one[:width - 1] + "…"
