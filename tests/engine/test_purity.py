"""The engine stays platform-neutral: no LINE SDK, no Flask, no clock, no network."""
from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "bot" / "engine"
FORBIDDEN = ("linebot", "flask", "requests", "urllib3", "sqlalchemy", "socket", "time")


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_imports_no_platform_sdk_clock_or_network():
    for path in ENGINE.glob("*.py"):
        assert not imported(path) & set(FORBIDDEN), path.name


def test_engine_never_reads_the_clock():
    for path in ENGINE.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "datetime.now" not in text and "utcnow" not in text, path.name
