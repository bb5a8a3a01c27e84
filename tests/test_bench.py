"""The benchmark's smoke run: it starts its servers, drives them, and prints every row.

No timing is checked (the numbers depend on the machine); `python scripts/bench.py`
is the real run whose table the README shows.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from bench import rows_for  # noqa: E402


def test_quick_benchmark_prints_every_row_with_numbers():
    done = subprocess.run([sys.executable, "scripts/bench.py", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    table = {line.split(" | ")[1]: line for line in done.stdout.splitlines()
             if line.startswith("| SQLite | ")}
    assert list(table) == rows_for("sqlite"), done.stdout
    for row in ("acks/s, 50 concurrent", "ack p99 ms, 50 concurrent"):
        cells = table[row].split(" | ")[2:5]  # bare, insert, bot: each measured
        assert all(re.search(r"\d", c) for c in cells), table[row]
    for row in ("end to end p50 ms, 20/s", "SQL statements per event: handling",
                "CPU ms per event at 50/s: web (gunicorn)", "CPU ms per event at 50/s: whole machine",
                "web worker RSS MiB, idle", "handling worker RSS MiB, idle",
                "handling cost ratio, many / 100 stored"):
        assert re.search(r"\d", table[row].split(" | ")[4]), table[row]
    assert "### Query plans while handling events, SQLite" in done.stdout


def test_thread_counts_are_applied_to_the_procfile_command():
    from bench_threads import ThreadedServer

    server = ThreadedServer(7, "t", None, {}, ROOT)
    args = server.command(8000)
    assert args[args.index("--threads") + 1] == "7"
    assert "bot:create_app(dispatch='standby')" in args  # the Procfile's own app, nothing else


def test_thread_comparison_smoke_run_measures_every_count_and_mode():
    done = subprocess.run([sys.executable, "scripts/bench_threads.py", "--databases", "sqlite",
                           "--threads", "2,4", "--repeat", "1", "--ack-seconds", "0.5",
                           "--drain-timeout", "60"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| sqlite | ")]
    assert {(r[1], r[2]) for r in rows} == {
        (t, f"{m}, {mode}") for t in ("2", "4") for m in ("acks/s", "ack p99 ms")
        for mode in ("INSERT baseline", "bot", "bot, workers stopped")}, done.stdout
    assert all(re.match(r"[\d,.]+$", r[3]) and float(r[3].replace(",", "")) > 0 for r in rows), rows
    for r in rows:  # the bot against its baseline, and every server against its first count
        first = float(r[5].rstrip(" |"))
        assert r[4] == "—" if r[2].endswith("INSERT baseline") else float(r[4]) > 0, r
        assert first == 1.0 if r[1] == "2" else first > 0, r
    assert "requests failed" not in done.stdout, done.stdout
