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
