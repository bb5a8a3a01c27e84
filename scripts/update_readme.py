"""Regenerate the README's generated parts: the main flow's diagram and the accuracy table.

    python scripts/update_readme.py
    python scripts/update_readme.py --bench    # also rerun the speed benchmark (slow)

Tests fail when the committed README differs from what this writes (the benchmark
table is measured, not checked: it depends on the machine).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def mermaid_block() -> str:
    """The main flow as the diagram command draws it, fenced for Markdown."""
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "bot", "diagram", "main"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return f"```mermaid\n{out}```"


def replace_between(text: str, name: str, body: str) -> str:
    """Put `body` between <!-- NAME --> and <!-- /NAME -->."""
    pattern = re.compile(rf"(<!-- {name} -->\n).*?(<!-- /{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {name} --> section")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)


def main() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from classify_accuracy import summary

    text = README.read_text(encoding="utf-8")
    text = replace_between(text, "diagram:main", mermaid_block())
    text = replace_between(text, "accuracy", summary())
    if "--bench" in sys.argv:
        out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_classify.py")],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
        text = replace_between(text, "bench-classify", out)
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
