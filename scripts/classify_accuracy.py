"""Measure the keyword rules against the table of realistic messages.

    python scripts/classify_accuracy.py            # the summary the README quotes
    python scripts/classify_accuracy.py --misses   # every message read wrongly
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.engine.classify import Classifier, read_rules  # noqa: E402

CASES = ROOT / "tests" / "content" / "classify_cases.yaml"
HOLDOUT = ROOT / "tests" / "content" / "classify_holdout.yaml"
FIELDS = ("topic", "want", "danger", "crisis")


def measure(path: Path = CASES) -> tuple[int, dict[str, int], list[str]]:
    """Return the number of cases, correct answers per field, and a line per miss."""
    rules, errors = read_rules(ROOT / "keywords.yaml")
    if errors:
        raise SystemExit("\n".join(map(str, errors)))
    classify = Classifier(rules)
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    correct = dict.fromkeys(FIELDS, 0)
    misses = []
    for case in cases:
        got = classify(case["text"]).as_json()
        for field in FIELDS:
            if got[field] == case[field]:
                correct[field] += 1
            else:
                misses.append(f"{case['text']}: {field} {got[field]!r}, expected {case[field]!r}")
    return len(cases), correct, misses


def summary() -> str:
    """The Markdown table the README quotes: the tuning set and the held-out set."""
    dev_n, dev, _ = measure(CASES)
    out_n, out, _ = measure(HOLDOUT)
    lines = ["| field | tuning set | held-out set |", "| --- | --- | --- |"]
    for f in FIELDS:
        lines.append(f"| {f} | {dev[f]}/{dev_n} ({dev[f] / dev_n:.0%}) "
                     f"| {out[f]}/{out_n} ({out[f] / out_n:.0%}) |")
    return "\n".join(lines)


if __name__ == "__main__":
    if "--misses" in sys.argv:
        print("\n".join(measure(CASES)[2] + measure(HOLDOUT)[2]) or "no misses")
    else:
        print(summary())
