"""The benchmark's in-process measures: SQL per event, cost with stored data, query plans.

The app is built by its own factory in this process, its dispatcher threads off,
so that every statement can be counted (SQLAlchemy events on the store's engine)
and events are handled in line, one after another, once they are due.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event, text

from bench_load import SECRET, TOKEN, WORDS, Api, LineUser
from tests.store.plans import explain, full_scans, recording, shorten

TEMPLATE_USER = "U" + "f" * 32


@dataclass
class Counter:
    """Statements, commits and time in SQL, by phase (webhook or handling)."""

    phase: str = "ack"
    statements: dict[str, int] = field(default_factory=lambda: {"ack": 0, "handle": 0})
    commits: dict[str, int] = field(default_factory=lambda: {"ack": 0, "handle": 0})
    sql_seconds: dict[str, float] = field(default_factory=lambda: {"ack": 0.0, "handle": 0.0})
    _started: threading.local = field(default_factory=threading.local)

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)

    def detach(self, engine: Engine) -> None:
        event.remove(engine, "before_cursor_execute", self._before)
        event.remove(engine, "after_cursor_execute", self._after)
        event.remove(engine, "commit", self._commit)

    def _before(self, *args: Any) -> None:
        self.statements[self.phase] += 1
        self._started.t = time.perf_counter()

    def _after(self, *args: Any) -> None:
        self.sql_seconds[self.phase] += time.perf_counter() - getattr(self._started, "t", 0.0)

    def _commit(self, *args: Any) -> None:
        self.commits[self.phase] += 1


def make_app(database: str, api: Api) -> Any:
    """The bot's app on `database`, pointed at the fake API, handling events only when asked."""
    from bot import create_app

    return create_app({"LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
                       "LINE_API_BASE_URL": api.fake.url, "DATABASE_URL": database,
                       "SECRET_KEY": "bench", "DISPATCH_THREADS": 0})


def post(client: Any, user: LineUser, event_: dict) -> None:
    response = user.post(event_, client=client)
    assert response.status_code == 200, response.status_code


def handle_due(app: Any) -> None:
    """Handle every posted event in this thread."""
    app.extensions["bot"].dispatcher.drain(timeout=600)


def start_template(app: Any) -> str:
    """One person's conversation of a few turns: the rows the seeding copies."""
    client, user = app.test_client(), LineUser(None, SECRET, user_id=TEMPLATE_USER)
    post(client, user, user.follow())
    for word in WORDS[:4]:
        post(client, user, user.text(word))
        handle_due(app)
    return "line:" + TEMPLATE_USER


def seed(engine: Engine, template_key: str, first: int, last: int) -> None:
    """Copy the template's conversation, transcript and finished events as people first..last."""
    from bot.store.schema import conversations, inbox, messages

    key = ("'line:U' || lpad(to_hex(g.n), 32, '0')" if engine.dialect.name == "postgresql"
           else "'line:U' || printf('%032x', g.n)")
    series = ("WITH RECURSIVE g(n) AS (SELECT CAST(:first AS INTEGER) UNION ALL SELECT n + 1 FROM g WHERE n < :last) ")
    plan = [(conversations, "key", {"key": key}),
            (messages, "conv_key", {"conv_key": key}),
            (inbox, "conv_key", {"conv_key": key,
                                 "event_id": "'seed-' || g.n || '-' || t.id"})]
    with engine.begin() as conn:
        for table, by, replaced in plan:
            columns = [c.name for c in table.c
                       if not (c.primary_key and c.autoincrement is True and c.name == "id")]
            values = ", ".join(replaced.get(c, f"t.{c}") for c in columns)
            where = f"t.{by} = :template" + (" AND t.status = 'done'" if table is inbox else "")
            conn.execute(text(f"{series}INSERT INTO {table.name} ({', '.join(columns)}) "
                              f"SELECT {values} FROM g, {table.name} AS t WHERE {where}"),
                         {"first": first, "last": last, "template": template_key})
        # One request for staff in ten conversations, closed today (kept, not yet purged).
        conn.execute(text(f"{series}INSERT INTO handoffs (conv_key, status, priority, requested_at, "
                          f"ended_at, ended_by) SELECT {key}, 'closed', 0, :now, :now, 'bench' "
                          "FROM g WHERE g.n % 10 = 0"), {"first": first, "last": last,
                                                          "now": time.time() - 3600})
    settle_after_seeding(engine)


def settle_after_seeding(engine: Engine) -> None:
    """Leave the database as a running one would be: not mid-checkpoint after a bulk load.

    PostgreSQL's autovacuum keeps statistics, so they are gathered; SQLite gathers
    none unless told (the app never runs ANALYZE), so none are made here either.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM ANALYZE")
            conn.exec_driver_sql("CHECKPOINT")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def stored_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar_one())
                for t in ("conversations", "messages", "inbox", "handoffs")}


@dataclass
class Cost:
    """What handling a batch of events cost, per event."""

    events: int
    wall_ms: float
    sql_ms: float
    ack_statements: float
    ack_commits: float
    statements: float
    commits: float


def measure_batch(app: Any, users: list[LineUser], word: str,
                  record: dict[str, Any] | None = None) -> Cost:
    """Post one message from each user, then handle them in line; count and time it."""
    engine = app.extensions["bot"].store.engine
    client, counter = app.test_client(), Counter()
    counter.attach(engine)
    try:
        for user in users:
            post(client, user, user.text(word))
        counter.phase = "handle"
        with recording(engine) as recorder:
            start = time.perf_counter()
            app.extensions["bot"].dispatcher.drain(timeout=600)
            wall = time.perf_counter() - start
    finally:
        counter.detach(engine)
    if record is not None:
        record.update(recorder.seen)
    n = len(users)
    return Cost(n, wall * 1000 / n, counter.sql_seconds["handle"] * 1000 / n,
                counter.statements["ack"] / n, counter.commits["ack"] / n,
                counter.statements["handle"] / n, counter.commits["handle"] / n)


def scale_runs(database: str, api: Api, sizes: tuple[int, ...], repeat: int, batch: int = 100,
               record: dict[str, Any] | None = None) -> dict[int, tuple[list[Cost], dict[str, int]]]:
    """Per-event cost with each of `sizes` conversations (and transcripts) stored, in turn.

    One app and database: seeded up to the first size, measured, seeded up to the
    next, measured again. `record` gets the statements of the largest size's last run.
    """
    app = make_app(database, api)
    engine = app.extensions["bot"].store.engine
    out = {}
    try:
        template, have = start_template(app), 1
        measure_batch(app, [LineUser(None, SECRET, user_id=TEMPLATE_USER)], "こんにちは")  # warm
        for stored in sizes:
            seed(engine, template, have, stored - 1)
            have = stored
            step = max(1, (stored - 1) // batch)
            people = [LineUser(None, SECRET, user_id="U" + f"{1 + i * step:032x}")
                      for i in range(min(batch, stored - 1))]
            last = stored == max(sizes)
            costs = [measure_batch(app, people, WORDS[1 + r % (len(WORDS) - 1)],
                                   record if last and r == repeat - 1 else None)
                     for r in range(repeat)]
            out[stored] = (costs, stored_rows(engine))
    finally:
        services = app.extensions["bot"]
        services.watcher.stop()
        services.dispatcher.stop()
        engine.dispose()
    return out


def plans(database: str, statements: dict[str, Any]) -> list[tuple[str, list[str], list[str]]]:
    """Each recorded statement with the plan the database chose for it, and its full scans."""
    from bot.store import database_url
    from sqlalchemy import create_engine

    engine = create_engine(database_url(database))
    try:
        out = []
        for statement, parameters in statements.items():
            plan = explain(engine, statement, parameters)
            out.append((shorten(statement), plan, full_scans(engine.dialect.name, plan)))
        return out
    finally:
        engine.dispose()
