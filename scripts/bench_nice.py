"""Acks with the handling workers running, at several CPU priorities of the workers.

    python scripts/bench_nice.py                       # both databases, nice 10 and 19
    python scripts/bench_nice.py --databases sqlite --nice 0,10,19 --rounds 6

The Procfile's web and worker serve the bot, beside the INSERT baseline (see
`bench.py`). Each round acknowledges 50 concurrent webhooks for `--seconds` on the
baseline, then on the bot once per `--nice` value: the worker is restarted with
`--nice N`, answers a few events (so that its content and model are loaded before
the measure), and is measured. The values run in turn, reversed every other
round, so that a drift within a round favours none of them. Each value's acks per
second are divided by the baseline's of the same round: the machine's speed drifts
between rounds, and the ratio takes it out. Printed: every round (with the
niceness the worker processes really had: `--nice` adds to the benchmark's own),
then per value the median ratio, the median of its p99s, and in how many rounds
it acknowledged the most.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import Databases, Results, Run, baseline_table, percentile, wait_drained  # noqa: E402
from bench_load import Api, Events, ack_load, children, wait_answered  # noqa: E402

CONCURRENCY = 50


def rounds(kind: str, args: argparse.Namespace) -> dict[int, list[tuple[float, float]]]:
    """Per nice value, (acks/s ÷ the baseline's, p99 ms) of each round."""
    results, api, events = Results(), Api(), Events()
    found: dict[int, list[tuple[float, float]]] = {n: [] for n in args.nice}
    with tempfile.TemporaryDirectory(prefix="bench-nice-") as work:
        dbs = Databases(kind, args.postgres, Path(work))
        run: Run | None = None
        try:
            api.start()
            run = Run(kind, args, results, dbs, api, events)
            bot, insert = run.servers["bot"], run.servers["insert"]
            baseline_table(run.database)
            for server in (bot, insert):
                server.start()
                server.wait_ready()
            ack_load(insert.url, events, 4, 0.5)
            for r in range(args.rounds):
                base = ack_load(insert.url, events, CONCURRENCY, args.seconds)
                line = [f"{kind} round {r + 1}: INSERT baseline {base.rate:,.0f}/s"]
                for nice in args.nice if r % 2 == 0 else args.nice[::-1]:
                    bot.stop_worker()
                    bot.worker_options = ["--nice", str(nice)]
                    bot.start_worker()
                    assert bot.worker is not None
                    niceness = sorted({os.getpriority(os.PRIO_PROCESS, pid)
                                       for pid in children(bot.worker.pid)})
                    warm = ack_load(bot.url, events, 4, 0.5)
                    if not niceness or not wait_answered(api, warm.tokens, 60):
                        raise SystemExit(f"the worker at --nice {nice} did not answer; "
                                         f"see {bot.log}")
                    got = ack_load(bot.url, events, CONCURRENCY, args.seconds)
                    p99 = percentile(got.latencies, 99) * 1000
                    found[nice].append((got.rate / base.rate, p99))
                    line.append(f"nice {nice} (niceness {','.join(map(str, niceness))}) "
                                f"{got.rate / base.rate:.2f}× p99 {p99:.0f} ms")
                    wait_drained(run.database, 300, results, f"nice {nice}")
                print("; ".join(line), flush=True)
        finally:
            if run is not None:
                for server in run.servers.values():
                    server.stop()
            dbs.drop_all()
            api.fake.stop()
    for note in results.notes:
        print(f"- {note}")
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--databases", default="sqlite,postgresql")
    p.add_argument("--postgres", default=os.environ.get(
        "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test_bench"),
        help="a database on the server; bench_* databases are made beside it and dropped")
    p.add_argument("--nice", default="10,19", help="the workers' priorities to compare")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--seconds", type=float, default=8.0, help="of each ack measure")
    args = p.parse_args(argv)
    args.nice = [int(n) for n in args.nice.split(",")]
    if len(set(args.nice)) != len(args.nice) or not all(0 <= n <= 19 for n in args.nice):
        p.error("--nice: distinct values from 0 to 19, as the worker accepts")
    if args.rounds < 1:
        p.error("--rounds: at least 1")
    for kind in [d.strip() for d in args.databases.split(",") if d.strip()]:
        found = rounds(kind, args)
        best = [max(args.nice, key=lambda n: found[n][r][0]) for r in range(args.rounds)]
        for nice in args.nice:
            ratios = [ratio for ratio, _ in found[nice]]
            print(f"{kind}, nice {nice}: acks {statistics.median(ratios):.2f}× the INSERT "
                  f"baseline (median; {min(ratios):.2f}–{max(ratios):.2f}), p99 "
                  f"{statistics.median(p for _, p in found[nice]):.0f} ms (median); the most in "
                  f"{best.count(nice)} of {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
