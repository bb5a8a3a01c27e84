"""Benchmark: the Procfile's server against two baselines, on SQLite and PostgreSQL.

    python scripts/bench.py                        # both databases, 3 repetitions (~1 hour)
    python scripts/bench.py --databases sqlite --duration 10 --repeat 1
    python scripts/bench.py --quick                # CI's smoke run: SQLite, seconds per measure
    python scripts/bench.py --readme               # also write the table into README.md

Three servers run the Procfile's web command (gunicorn, same workers, threads and
config): the bot, a bare Flask app answering 200 ("bare"), and a bare Flask app
that first INSERTs and commits the body into the same database ("insert", the
physical limit of persisting before answering). One load generator sends them
really signed, distinct LINE text events from 1,000 people; the bot's replies
go to a fake Messaging API on loopback, which notes when each arrives.

Measured, each `--repeat` times (printed as median (min–max); ratios are taken
within one repetition, then summarised):
- ack: POST /callback answers per second, and their p50/p95/p99, with 1, 10 and
  50 clients posting back to back (`--ack-seconds` each), while the Procfile's
  worker answers what was stored; and at 50 with the worker stopped, the web
  process alone, as the baselines run;
- end to end: POST to the reply reaching the fake API, at 5, 20 and 50 events
  per second offered for `--duration` seconds;
- CPU per event by part of the machine (load generator and fake API, web,
  handling workers, PostgreSQL server, whole machine) while the 50/s load runs,
  and the events per second the cores could carry at the bot's own cost;
- the most events per second the bot keeps up with (offered rate doubled until
  replies fall behind, then the gap between the last rate kept up with and the
  first not halved `--refine` times), and what it handles once it does not;
- SQL statements and commits per event, counted in this process on the store's
  engine (webhook, then handling in line), and on PostgreSQL also by the server
  (pg_stat_database) while gunicorn runs the 20/s load;
- each web worker's resident memory, idle and after the load, and the bot's
  handling workers' (the Procfile's `worker`);
- start-up: importing and creating the app in a new process (LINE configured,
  as in production; the bot's bytecode compiled, as installed), and a whole `flask --app bot chat` run, against importing
  Flask and creating a bare app;
- the handling cost per event with 100 and with `--stored` conversations (with
  their transcripts and finished events) in the database, and the plan of
  every query that handling ran, with any full table scan flagged.
Everything runs on 127.0.0.1; every loop is bounded in time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import (ROOT, SECRET, TOKEN, Api, Events, Sent, Server,  # noqa: E402
                        ack_load, answered, children, cpu_seconds, machine_busy_seconds,
                        parent, offered_load, wait_answered)

CONCURRENCY = (1, 10, 50)
RATES = (5, 20, 50)
TARGETS = ("bare", "insert", "bot")
# The web process alone: the Procfile's worker stopped, so that nothing else wants the
# CPU, as for the baselines. Its events wait in the inbox and are answered after.
ALONE, ALONE_AT = "workers stopped", 50
# Where the machine's CPU goes per event, measured while the end-to-end load runs at this rate.
CPU_AT = 50
CPU_PARTS = ("load generator and fake API", "web (gunicorn)", "handling workers",
             "PostgreSQL server", "whole machine")
SERVICE = ("web (gunicorn)", "handling workers", "PostgreSQL server")  # the bot's own cost
CORES = len(os.sched_getaffinity(0))
# The fake API answers on loopback at once; LINE answers after a network round trip, and
# each of the bot's threads waits for it. Measured at this rate with `--api-latency`.
SLOW_AT, SLOW = 50, "slow API"
# The machine's speed has varied twofold between runs. Events handled once behind, scaled by
# this run's bare Flask (acks/s at 50 concurrent) to the machine the targets were set
# on, where bare Flask answered about this many: comparable across runs and days.
REFERENCE_BARE = 3000
SCALED = f"events/s handled when falling behind, on a machine where bare Flask acks {REFERENCE_BARE:,}/s"
SCALED_KEPT = f"most events/s handled keeping up, on a machine where bare Flask acks {REFERENCE_BARE:,}/s"


def rows_for(database: str) -> list[str]:
    """Every row the table has for one database, in order (the smoke test checks them)."""
    rows = []
    for c in CONCURRENCY:
        rows += [f"acks/s, {c} concurrent"] + [f"ack {p} ms, {c} concurrent"
                                               for p in ("p50", "p95", "p99")]
    rows += [f"{row}, {ALONE}" for row in (f"acks/s, {ALONE_AT} concurrent",
                                           f"ack p99 ms, {ALONE_AT} concurrent")]
    for r in RATES:
        rows += [f"end to end {p} ms, {r}/s" for p in ("p50", "p95", "p99")]
    rows += [f"end to end {p} ms, {SLOW_AT}/s, {SLOW}" for p in ("p50", "p95", "p99")]
    rows += [f"CPU ms per event at {CPU_AT}/s: {part}" for part in CPU_PARTS]
    rows += [f"events/s {CORES} cores carry at the web's, workers' and database's cost"]
    rows += ["start-up s: import and create the app", "start-up s: flask chat, whole command"]
    rows += ["most events/s handled keeping up", SCALED_KEPT,
             "events/s handled when falling behind", SCALED,
             "SQL statements per event: webhook", "commits per event: webhook",
             "SQL statements per event: handling", "commits per event: handling",
             "commits per event, counted by PostgreSQL",
             "web worker RSS MiB, idle", "web worker RSS MiB, after the load",
             "handling worker RSS MiB, idle", "handling worker RSS MiB, after the load",
             "handling ms per event, 100 stored", "handling ms per event, many stored",
             "handling cost ratio, many / 100 stored", "SQL ms per event, 100 stored",
             "SQL ms per event, many stored"]
    return rows


# -- numbers -------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (inf counts: a reply that never came)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


def cell(values: list[float], digits: int = 0, limit: float | None = None) -> str:
    """median (min–max); '> limit' for a value past it."""
    def fmt(v: float) -> str:
        if v != v:
            return "?"
        if v == float("inf") or (limit is not None and v > limit):
            return f"> {limit:,.0f}" if limit is not None else "∞"
        return f"{v:,.{digits}f}"
    if not values:
        return "—"
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


class Results:
    """Values per (database, row, column), one per repetition."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str, str], list[float]] = {}
        self.digits: dict[str, int] = {}
        self.limits: dict[tuple[str, str], float] = {}
        self.notes: list[str] = []

    def add(self, database: str, row: str, column: str, value: float, digits: int = 0) -> None:
        self.values.setdefault((database, row, column), []).append(value)
        self.digits[row] = digits

    def get(self, database: str, row: str, column: str) -> list[float]:
        return self.values.get((database, row, column), [])

    def table(self, databases: list[str]) -> str:
        lines = ["| database | measure | bare Flask | Flask + 1 INSERT | bot | bot / bare | "
                 "bot / INSERT |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for db in databases:
            for row in rows_for(db):
                d, lim = self.digits.get(row, 0), self.limits.get((db, row))
                cols = [cell(self.get(db, row, t), d, lim) for t in TARGETS]
                ratios = [cell(self.get(db, row, f"bot/{t}"), 2) for t in ("bare", "insert")]
                lines.append(f"| {NAMES[db]} | {row} | " + " | ".join(cols + ratios) + " |")
        return "\n".join(lines)


NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
FLUSH = 11.0  # seconds: an idle PostgreSQL backend reports its counts within 10


# -- databases -------------------------------------------------------------------------

class Databases:
    """Fresh databases for one run: SQLite files, or bench_* databases on the server."""

    def __init__(self, kind: str, postgres: str, work: Path):
        self.kind, self.postgres, self.work = kind, postgres, work
        self.made: list[str] = []

    def fresh(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.work / (name + '.sqlite3')}"
        from sqlalchemy.engine import make_url

        db = f"bench_{os.getpid()}_{name}"
        self._admin(f'DROP DATABASE IF EXISTS "{db}"', f'CREATE DATABASE "{db}"')
        self.made.append(db)
        return make_url(self.postgres).set(database=db).render_as_string(hide_password=False)

    def _admin(self, *statements: str) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.postgres)
        with psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                             password=url.password, dbname=url.database,
                             autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def drop_all(self) -> None:
        for db in self.made:
            self._admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self.made.clear()


def pg_transactions(url: str) -> tuple[int, int]:
    """(commits, rollbacks) PostgreSQL counted for this database so far."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                         dbname=u.database, autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit, xact_rollback FROM pg_stat_database "
                           "WHERE datname = current_database()").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def wait_drained(database: str, timeout: float, results: Results, what: str) -> None:
    """Wait until the bot's inbox holds nothing unfinished, so measures do not overlap."""
    from fault_run import unfinished

    deadline = time.time() + timeout
    while unfinished(database):
        if time.time() > deadline:
            results.notes.append(f"{what}: inbox not drained after {timeout:.0f} s; "
                                 "the next measure ran with a backlog")
            return
        time.sleep(0.5)


# -- the gunicorn measures --------------------------------------------------------------

def baseline_table(database: str) -> None:
    """Create the INSERT baseline's table, before two of its workers race to."""
    from bench_baseline import bench_acks, meta
    from sqlalchemy import create_engine

    from bot.store import database_url

    engine = create_engine(database_url(database))
    meta.create_all(engine, tables=[bench_acks])
    engine.dispose()


class Run:
    """One database's servers, load and results."""

    def __init__(self, kind: str, args: argparse.Namespace, results: Results, dbs: Databases,
                 api: Api, events: Events):
        self.kind, self.args, self.results, self.dbs = kind, args, results, dbs
        self.api, self.events = api, events
        self.database = dbs.fresh("main")
        env = dict(os.environ, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
                   LINE_API_BASE_URL=api.fake.url, DATABASE_URL=self.database,
                   SECRET_KEY="bench")
        # The web must not answer in the workers' place while they are stopped for the
        # web-alone measure (it would after 5 s without them); the workers keep the default.
        web_env = {"DISPATCH_STANDBY_SECONDS": "600"}
        self.servers = {name: Server(f"{kind}-{name}", app, env, dbs.work, web_env)
                        for name, app in (("bare", "bench_baseline:bare()"),
                                          ("insert", "bench_baseline:insert()"), ("bot", None))}

    def add(self, row: str, column: str, value: float, digits: int = 0) -> None:
        self.results.add(self.kind, row, column, value, digits)

    def start(self) -> None:
        baseline_table(self.database)
        self.servers["bot"].start()  # first: its master migrates the database
        self.servers["bot"].wait_ready()
        for name in ("bare", "insert"):
            self.servers[name].start()
        for name in ("bare", "insert"):
            self.servers[name].wait_ready()
        self.warm_up()
        for name, server in self.servers.items():
            for mib in server.rss():
                self.add("web worker RSS MiB, idle", name, mib)
            for mib in server.rss(handling=True):
                self.add("handling worker RSS MiB, idle", name, mib)

    def warm_up(self) -> None:
        """Send every worker a few events and wait for their replies: content and model loaded."""
        sent = ack_load(self.servers["bot"].url, self.events, 4, 1.0)
        if not wait_answered(self.api, sent.tokens, 120):
            self.results.notes.append(f"{self.kind}: warm-up replies missing")
        for name in ("bare", "insert"):
            ack_load(self.servers[name].url, self.events, 4, 0.5)
        wait_drained(self.database, 60, self.results, "warm-up")

    def stop(self) -> None:
        for name, server in self.servers.items():
            for mib in server.rss():
                self.add("web worker RSS MiB, after the load", name, mib)
            for mib in server.rss(handling=True):
                self.add("handling worker RSS MiB, after the load", name, mib)
            server.stop()

    def acks(self) -> None:
        for c in CONCURRENCY:
            measured = {}
            for name in TARGETS:  # the bot last: its backlog drains before the next measure
                r = ack_load(self.servers[name].url, self.events, c, self.args.ack_seconds)
                measured[name] = [r.rate] + [percentile(r.latencies, p) * 1000
                                             for p in (50, 95, 99)]
                if r.errors:
                    self.results.notes.append(f"{self.kind} {name}, {c} concurrent: "
                                              f"{r.errors} of {r.count} requests failed")
            rows = [f"acks/s, {c} concurrent"] + [f"ack {p} ms, {c} concurrent"
                                                  for p in ("p50", "p95", "p99")]
            for i, row in enumerate(rows):
                for name in TARGETS:
                    self.add(row, name, measured[name][i], 0 if i == 0 else 1)
                for base in ("bare", "insert"):
                    if measured[base][i]:
                        self.add(row, f"bot/{base}", measured["bot"][i] / measured[base][i], 2)
            wait_drained(self.database, self.args.drain_timeout, self.results,
                         f"{self.kind} acks at {c} concurrent")
            if c == ALONE_AT:
                self.acks_alone(measured["insert"])

    def acks_alone(self, insert: list[float]) -> None:
        """Acks with the workers stopped, against the INSERT baseline just measured."""
        bot = self.servers["bot"]
        try:
            bot.stop_worker()
            r = ack_load(bot.url, self.events, ALONE_AT, self.args.ack_seconds)
        finally:
            bot.start_worker()
        for i, (row, value) in enumerate(((f"acks/s, {ALONE_AT} concurrent", r.rate),
                                          (f"ack p99 ms, {ALONE_AT} concurrent",
                                           percentile(r.latencies, 99) * 1000))):
            self.add(f"{row}, {ALONE}", "bot", value, 0 if i == 0 else 1)
            base = insert[0 if i == 0 else 3]
            if base:
                self.add(f"{row}, {ALONE}", "bot/insert", value / base, 2)
        if r.errors:
            self.results.notes.append(f"{self.kind} bot, {ALONE}: {r.errors} of {r.count} "
                                      "requests failed")
        wait_drained(self.database, self.args.drain_timeout, self.results,
                     f"{self.kind} acks with the workers stopped")

    def end_to_end(self, rep: int) -> None:
        for rate in RATES:
            counted = self.kind == "postgresql" and rate == 20 and rep == 0
            if counted:
                idle_rate, before = self.idle_commit_rate()
            cpu_before = self.cpu() if rate == CPU_AT else None
            sent = self.offered(rate, f"{rate}/s")
            if cpu_before is not None:
                self.add_cpu(cpu_before, self.cpu(), answered(self.api, sent.posted))
            if counted:
                time.sleep(FLUSH)
                after, then = pg_transactions(self.database)[0], time.time()
                spent = after - before[0] - idle_rate * (then - before[1])
                self.add("commits per event, counted by PostgreSQL", "bot",
                         spent / len(sent.posted), 1)

    def slow_api(self) -> None:
        """End to end with the fake API taking `--api-latency` to answer each call."""
        self.api.fake.delay = self.args.api_latency
        try:
            self.offered(SLOW_AT, f"{SLOW_AT}/s, {SLOW}")
        finally:
            self.api.fake.delay = 0.0

    def offered(self, rate: float, label: str) -> Sent:
        """Offer `rate` events/s for `--duration`; add the end-to-end rows; wait for the rest.

        The time is from the POST to the reply reaching the fake API."""
        sent = offered_load(self.servers["bot"].url, self.events, rate, self.args.duration)
        grace = max(10.0, self.args.duration)
        wait_answered(self.api, sent.posted, grace)
        with self.api._lock:
            arrived = dict(self.api.arrived)
        lat = [(arrived[t] - t0) * 1000 if t in arrived else float("inf")
               for t, t0 in sent.posted.items()]
        for p in (50, 95, 99):
            self.add(f"end to end p{p} ms, {label}", "bot", percentile(lat, p), 0)
            self.results.limits[(self.kind, f"end to end p{p} ms, {label}")] = grace * 1000
        if sent.errors:
            self.results.notes.append(f"{self.kind} end to end at {label}: "
                                      f"{sent.errors} posts failed")
        wait_drained(self.database, self.args.drain_timeout, self.results,
                     f"{self.kind} end to end at {label}")
        return sent

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each part of the machine (see CPU_PARTS).

        Background work (polling, heartbeats, the database's own processes) counts
        too: it is part of what the load costs.
        """
        bot = self.servers["bot"]
        assert bot.proc is not None and bot.worker is not None
        own = os.times()  # every thread of this process; none of its children
        postgres = float("nan")
        if self.kind == "postgresql" and self.postmaster:
            postgres = cpu_seconds(children(self.postmaster), reaping=[self.postmaster])
        return dict(zip(CPU_PARTS, (
            own.user + own.system,  # the load generator and the fake API
            cpu_seconds(bot.workers(), reaping=[bot.proc.pid]),
            cpu_seconds(children(bot.worker.pid), reaping=[bot.worker.pid]),
            postgres,
            machine_busy_seconds())))

    @property
    def postmaster(self) -> int | None:
        """The PostgreSQL server's main process, if it runs on this machine (else None)."""
        import psycopg
        from sqlalchemy.engine import make_url

        u = make_url(self.database)
        with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username,
                             password=u.password, dbname=u.database, autocommit=True) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            backend = int(row[0]) if row else 0
            found = parent(backend)
        return found if found and found > 1 else None

    def add_cpu(self, before: dict[str, float], after: dict[str, float], events: int) -> None:
        if not events:
            return
        spent = {part: (after[part] - before[part]) * 1000 / events for part in CPU_PARTS}
        for part, ms in spent.items():
            if ms == ms:  # not NaN: no PostgreSQL row on SQLite, or a server elsewhere
                self.add(f"CPU ms per event at {CPU_AT}/s: {part}", "bot", ms, 2)
        service = sum(spent[p] for p in SERVICE if spent[p] == spent[p])
        if service > 0:
            self.add(f"events/s {CORES} cores carry at the web's, workers' and database's cost",
                     "bot", CORES * 1000 / service, 0)

    def idle_commit_rate(self) -> tuple[float, tuple[int, float]]:
        """Commits per second PostgreSQL counts while the bot idles; and the count now."""
        time.sleep(FLUSH)
        first, start = pg_transactions(self.database)[0], time.time()
        time.sleep(FLUSH)
        second, now = pg_transactions(self.database)[0], time.time()
        return (second - first) / (now - start), (second, now)

    def offer_step(self, rate: float) -> tuple[float, float | None]:
        """Offer `rate` for `--step-seconds`: (the rate offered, and None if replies kept up,
        else the replies per second that came in the step and 2 s after it)."""
        sent = offered_load(self.servers["bot"].url, self.events, rate, self.args.step_seconds)
        offered = len(sent.posted) / sent.seconds
        on_time = wait_answered(self.api, sent.posted, 2.0)
        got = answered(self.api, sent.posted)
        if not on_time and got < 0.98 * len(sent.posted):
            return offered, got / (sent.seconds + 2.0)
        return offered, None

    def most(self) -> None:
        """Offer more and more events per second until replies fall behind; then halve the
        gap between the last rate kept up with and the first not, `--refine` times (each
        after the backlog drained)."""
        kept, behind, failed = 0.0, None, None
        for rate in self.args.rates:
            offered, fell = self.offer_step(rate)
            if fell is not None:
                behind, failed = fell, rate
                break
            kept = offered
        if kept and failed is not None:
            low, high = kept, failed
            for _ in range(self.args.refine):
                wait_drained(self.database, self.args.drain_timeout, self.results,
                             f"{self.kind} most events/s")
                offered, fell = self.offer_step((low + high) / 2)
                if fell is None:
                    low = kept = max(kept, offered)
                else:
                    high = (low + high) / 2
        bare = self.results.get(self.kind, f"acks/s, {ALONE_AT} concurrent", "bare")
        scale = REFERENCE_BARE / bare[-1] if bare and bare[-1] else None  # this repetition's
        if kept:
            self.add("most events/s handled keeping up", "bot", kept, 0)
            if scale:
                self.add(SCALED_KEPT, "bot", kept * scale, 0)
        else:
            self.results.notes.append(f"{self.kind}: fell behind at the lowest rate offered, "
                                      f"{self.args.rates[0]:g}/s")
        if behind is None:
            self.results.notes.append(f"{self.kind}: kept up with every offered rate, up to "
                                      f"{self.args.rates[-1]}/s")
        else:
            self.add("events/s handled when falling behind", "bot", behind, 0)
            if scale:
                self.add(SCALED, "bot", behind * scale, 0)
        wait_drained(self.database, self.args.drain_timeout, self.results,
                     f"{self.kind} most events/s")


def in_process(kind: str, args: argparse.Namespace, results: Results, dbs: Databases,
               api: Api) -> list[tuple[str, list[str], list[str]]]:
    """SQL per event and the cost with many stored conversations; the plans on the large one."""
    from bench_store import plans, scale_runs

    database = dbs.fresh("stored")
    record: dict[str, Any] = {}
    found = scale_runs(database, api, (100, args.stored), args.repeat, args.batch, record)
    costs = {"100": found[100][0], "many": found[args.stored][0]}
    for label, stored in (("100", 100), ("many", args.stored)):
        rows = found[stored][1]
        results.notes.append(f"{NAMES[kind]}: {label} stored = {rows['conversations']:,} "
                             f"conversations, {rows['messages']:,} transcript lines, "
                             f"{rows['inbox']:,} finished events, {rows['handoffs']:,} "
                             "closed requests for staff")
        for row, attr, digits in ((f"handling ms per event, {label} stored", "wall_ms", 1),
                                  (f"SQL ms per event, {label} stored", "sql_ms", 2)):
            for c in costs[label]:
                results.add(kind, row, "bot", getattr(c, attr), digits)
    explained = plans(database, record)
    small = costs["100"]
    for row, attr in (("SQL statements per event: webhook", "ack_statements"),
                      ("commits per event: webhook", "ack_commits"),
                      ("SQL statements per event: handling", "statements"),
                      ("commits per event: handling", "commits")):
        for c in small:
            results.add(kind, row, "bot", getattr(c, attr), 1)
    for a, b in zip(costs["many"], small):
        results.add(kind, "handling cost ratio, many / 100 stored", "bot", a.wall_ms / b.wall_ms, 2)
    return explained


STARTUP = {
    "bare": ("import time; t = time.perf_counter(); from flask import Flask; Flask('bare'); "
             "print(time.perf_counter() - t)"),
    "bot": ("import time; t = time.perf_counter(); import bot; bot.create_app(); "
            "print(time.perf_counter() - t)"),
}


def startup(kind: str, args: argparse.Namespace, results: Results, dbs: Databases) -> None:
    """Seconds to import and create the app in a new process, and a whole `flask chat` run.

    With LINE configured, as in production, and the bot's bytecode compiled; the model
    cache and the content check are those of the instance folder, warmed by a first
    run that is not counted.
    """
    import subprocess

    env = dict(os.environ, DATABASE_URL=dbs.fresh("startup"), DISPATCH_THREADS="0",
               LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
               SECRET_KEY="bench")
    python = sys.executable

    def seconds(target: str) -> float:
        out = subprocess.run([python, "-c", STARTUP[target]], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True, timeout=120)
        return float(out.stdout.strip().splitlines()[-1])

    def chat() -> float:
        t = time.perf_counter()
        subprocess.run([python, "-m", "flask", "--app", "bot", "chat"], cwd=ROOT, env=env,
                       input="quit\n", check=True, capture_output=True, text=True, timeout=120)
        return time.perf_counter() - t

    def bare_process() -> float:
        t = time.perf_counter()
        subprocess.run([python, "-c", STARTUP["bare"]], cwd=ROOT, env=env, check=True,
                       capture_output=True, text=True, timeout=120)
        return time.perf_counter() - t

    # Bytecode, as a deployment has it: a (non-editable) pip install compiles the package,
    # and Python writes it on a first start unless PYTHONDONTWRITEBYTECODE is set (it is
    # on some machines, which would compile every module of the bot on every start).
    subprocess.run([python, "-m", "compileall", "-q", "bot"], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    seconds("bot"), chat()  # warm the caches and the file system
    for _ in range(args.repeat):
        bare, bot_s = seconds("bare"), seconds("bot")
        results.add(kind, "start-up s: import and create the app", "bare", bare, 2)
        results.add(kind, "start-up s: import and create the app", "bot", bot_s, 2)
        results.add(kind, "start-up s: import and create the app", "bot/bare", bot_s / bare, 2)
        whole_bare, whole = bare_process(), chat()
        results.add(kind, "start-up s: flask chat, whole command", "bare", whole_bare, 2)
        results.add(kind, "start-up s: flask chat, whole command", "bot", whole, 2)
        results.add(kind, "start-up s: flask chat, whole command", "bot/bare", whole / whole_bare, 2)


def print_plans(kind: str, explained: list[tuple[str, list[str], list[str]]], stored: int) -> None:
    print(f"\n### Query plans while handling events, {NAMES[kind]}, {stored:,} conversations stored\n")
    for statement, plan, scans in explained:
        flag = "FULL SCAN: " + "; ".join(scans) if scans else "index"
        print(f"- `{statement}`  \n  {flag}")
        for line in plan:
            print(f"      {line}")


def write_readme(table: str) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from update_readme import README, replace_between

    text = README.read_text(encoding="utf-8")
    README.write_text(replace_between(text, "bench", table), encoding="utf-8")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--databases", help="sqlite,postgresql (the default; --quick: sqlite)")
    p.add_argument("--postgres", default=os.environ.get(
        "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test_bench"),
        help="a database on the server; bench_* databases are made beside it and dropped")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--duration", type=float, default=30.0, help="seconds of each end-to-end rate")
    p.add_argument("--ack-seconds", type=float, default=10.0)
    p.add_argument("--step-seconds", type=float, default=10.0, help="per offered rate")
    p.add_argument("--rates", default="10,20,40,80,160,320,640", help="offered, for the maximum")
    p.add_argument("--refine", type=int, default=3,
                   help="halvings of the gap between the last rate kept up with and the next")
    p.add_argument("--stored", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=100, help="events per in-process measure")
    p.add_argument("--drain-timeout", type=float, default=300.0)
    p.add_argument("--api-latency", type=float, default=0.1,
                   help="seconds the fake API takes to answer, for the slow-API rows")
    p.add_argument("--readme", action="store_true", help="write the table into README.md")
    p.add_argument("--quick", action="store_true", help="a smoke run: SQLite, seconds each")
    args = p.parse_args(argv)
    if args.quick:
        args.databases = args.databases or "sqlite"
        args.repeat, args.duration, args.ack_seconds = 1, 1.0, 0.5
        args.step_seconds, args.rates, args.stored, args.batch = 1.5, "50", 1000, 20
        args.refine = 1
        args.drain_timeout = 60.0
    args.databases = args.databases or "sqlite,postgresql"
    args.rates = [float(r) for r in args.rates.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    results, started = Results(), time.time()
    api = Api()
    api.start()
    events = Events()
    all_plans = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        for kind in databases:
            dbs = Databases(kind, args.postgres, Path(work))
            run = Run(kind, args, results, dbs, api, events)
            step(f"{kind}: start-up", lambda: startup(kind, args, results, dbs))
            try:
                run.start()
                for rep in range(args.repeat):
                    step(f"{kind}: acks, repetition {rep + 1}", run.acks)
                    step(f"{kind}: end to end, repetition {rep + 1}", lambda: run.end_to_end(rep))
                    step(f"{kind}: end to end, slow API, repetition {rep + 1}", run.slow_api)
                    step(f"{kind}: most events/s, repetition {rep + 1}", run.most)
            finally:
                run.stop()
            try:
                all_plans[kind] = step(f"{kind}: SQL per event and stored data",
                                       lambda: in_process(kind, args, results, dbs, api))
            finally:
                dbs.drop_all()
    api.fake.stop()
    table = results.table(databases)
    print(f"\nrepetitions: {args.repeat}; ack {args.ack_seconds:g} s per measure; end to end "
          f"{args.duration:g} s per rate; 'many stored' = {args.stored:,}; "
          f"{time.time() - started:.0f} s in all; median (min–max)\n")
    print(table)
    for note in results.notes:
        print(f"- {note}")
    for kind, explained in all_plans.items():
        print_plans(kind, explained, args.stored)
    if args.readme:
        write_readme(table)
    return 0


def step(what: str, fn: Callable[[], Any]) -> Any:
    print(f"{time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)
    return fn()


if __name__ == "__main__":
    raise SystemExit(main())
