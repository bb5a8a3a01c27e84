"""The fault run, short: the Procfile's server loses no answer and doubles none under faults.

CI runs this quick version (100 events, 10 users, a worker killed, the server
restarted, the API down for 20 s); `python scripts/fault_run.py` is the full run
whose latest result the README states.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_fault_run_loses_none_and_doubles_none():
    done = subprocess.run([sys.executable, "scripts/fault_run.py", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=400)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["lost"], result["doubled"], result["unfinished"]) == (0, 0, 0), done.stdout
    assert result["answered_once"] == result["events"] == 100
    assert done.returncode == 0
