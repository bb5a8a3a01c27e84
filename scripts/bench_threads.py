"""Acks at 50 concurrent for several web thread counts, each against the INSERT baseline
served with the same count, in one run.

    python scripts/bench_threads.py                       # --threads 4,8, both databases
    python scripts/bench_threads.py --threads 4,8,12 --databases postgresql --repeat 3

The Procfile's web command serves the bot (with the Procfile's worker) and the
INSERT baseline (`bench_baseline.py`), with `--threads` replaced by each count in
turn. In each repetition every count is measured back to back, in rotating order:
the baseline, the bot with its worker answering, the bot with its worker stopped.
Printed per database and count as median (min–max) over repetitions: acks/s and
p99, their ratios to the baseline of the same repetition and count, and to the
same server at the first count in the same repetition. The last says whether a
count helps the bot itself and not only its ratio: a count can also slow the
baseline down (SQLite's writers contend for the file's lock).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import (Databases, Results, baseline_table, cell, percentile, step,  # noqa: E402
                   wait_drained)
from bench_load import SECRET, TOKEN, Api, Events, Server, ack_load, wait_answered  # noqa: E402

CONCURRENCY = 50
MODES = ("INSERT baseline", "bot", "bot, workers stopped")


class ThreadedServer(Server):
    """A Server whose web command runs `threads` threads per process."""

    def __init__(self, threads: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.threads = threads

    def command(self, port: int) -> list[str]:
        args = super().command(port)
        at = args.index("--threads")
        args[at + 1] = str(self.threads)
        return args


def measure(kind: str, threads: int, args: argparse.Namespace, dbs: Databases, api: Api,
            events: Events, results: Results, rep: int) -> dict[str, tuple[float, float]]:
    """One repetition of one thread count: (acks/s, p99 ms) per mode."""
    database = dbs.fresh(f"t{threads}_{rep}")
    baseline_table(database)
    env = dict(os.environ, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
               LINE_API_BASE_URL=api.fake.url, DATABASE_URL=database, SECRET_KEY="bench")
    bot = ThreadedServer(threads, f"{kind}-t{threads}-bot", None, env, dbs.work,
                         {"DISPATCH_STANDBY_SECONDS": "600"})
    insert = ThreadedServer(threads, f"{kind}-t{threads}-insert", "bench_baseline:insert()",
                            env, dbs.work)
    out: dict[str, tuple[float, float]] = {}
    try:
        bot.start()  # first: its master migrates the database
        bot.wait_ready()
        insert.start()
        insert.wait_ready()
        if not wait_answered(api, ack_load(bot.url, events, 4, 1.0).tokens, 120):
            results.notes.append(f"{kind} {threads} threads: warm-up replies missing")
        ack_load(insert.url, events, 4, 0.5)
        wait_drained(database, args.drain_timeout, results, "warm-up")
        for mode in MODES:
            if mode == MODES[2]:
                bot.stop_worker()
            try:
                r = ack_load((insert if mode == MODES[0] else bot).url, events, CONCURRENCY,
                             args.ack_seconds)
            finally:
                if mode == MODES[2]:
                    bot.start_worker()
            if r.errors:
                results.notes.append(f"{kind} {threads} threads, {mode}: {r.errors} of "
                                     f"{r.count} requests failed")
            out[mode] = (r.rate, percentile(r.latencies, 99) * 1000)
            wait_drained(database, args.drain_timeout, results, f"{kind} {mode}")
    finally:
        bot.stop()
        insert.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="4,8", help="web threads per process, compared")
    p.add_argument("--databases", default="sqlite,postgresql")
    p.add_argument("--postgres", default=os.environ.get(
        "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test_bench"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--ack-seconds", type=float, default=10.0)
    p.add_argument("--drain-timeout", type=float, default=300.0)
    args = p.parse_args(argv)
    counts = [int(t) for t in args.threads.split(",")]
    results = Results()
    api = Api()
    api.start()
    events = Events()
    lines = ["| database | threads | measure | value | / INSERT baseline | "
             f"/ same at {counts[0]} threads |", "| --- | --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as work:
        for kind in [d.strip() for d in args.databases.split(",") if d.strip()]:
            dbs = Databases(kind, args.postgres, Path(work))
            got: dict[int, list[dict[str, tuple[float, float]]]] = {t: [] for t in counts}
            try:
                for rep in range(args.repeat):
                    order = counts[rep % len(counts):] + counts[:rep % len(counts)]
                    for t in order:
                        got[t].append(step(f"{kind}: {t} threads, repetition {rep + 1}",
                                           lambda t=t, rep=rep: measure(
                                               kind, t, args, dbs, api, events, results, rep)))
            finally:
                dbs.drop_all()
            for t in counts:
                for mode in MODES:
                    for i, name in enumerate(("acks/s", "ack p99 ms")):
                        values = [m[mode][i] for m in got[t]]
                        base = [v / m[MODES[0]][i] for v, m in zip(values, got[t])]
                        first = [v / m[mode][i] for v, m in zip(values, got[counts[0]])]
                        lines.append(f"| {kind} | {t} | {name}, {mode} | "
                                     f"{cell(values, 0 if i == 0 else 1)} | "
                                     f"{cell(base, 2) if mode != MODES[0] else '—'} | "
                                     f"{cell(first, 2)} |")
    api.fake.stop()
    print(f"\n{CONCURRENCY} concurrent, {args.ack_seconds:g} s per measure, "
          f"{args.repeat} repetitions; median (min–max)\n")
    print("\n".join(lines))
    for note in results.notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
