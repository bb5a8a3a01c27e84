"""Measure how the bot reads free text: on the examples it learns from, and on sets it never saw.

    python scripts/classify_accuracy.py                 # the table the README quotes
    python scripts/classify_accuracy.py --misses holdout   # every message read wrongly in a set
    python scripts/classify_accuracy.py --sweep          # crisis/danger thresholds on validation

Sets:
- training: examples/ (what editors write; rules were written against it too);
- validation: tests/content/validation.yaml, written apart from the examples and
  used only to choose thresholds;
- holdout: tests/content/holdout.yaml, written apart from both and never used to
  tune anything. Its column is the honest estimate.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlu import MAYBE, SURE, Understanding, load_understanding  # noqa: E402

SETS = {"validation": ROOT / "tests" / "content" / "validation.yaml",
        "holdout": ROOT / "tests" / "content" / "holdout.yaml"}
ROWS = ("topic", "want", "someone else's case read so", "own case read as someone else's",
        "crisis sure", "crisis sure or asked", "danger sure",
        "danger sure or asked", "medical", "hard negatives: false sure",
        "hard negatives: asked", "ordinary: asked")


def understanding() -> Understanding:
    found, problems = load_understanding(ROOT / "keywords.yaml", ROOT / "examples")
    if found is None:
        raise SystemExit("\n".join(map(str, problems)))
    return found


def training_cases(u: Understanding) -> list[dict[str, Any]]:
    """The examples as cases: each text with every label the files give it."""
    cases: dict[str, dict[str, Any]] = defaultdict(lambda: {"crisis": False, "danger": False})
    for name, fx in u.examples.fields.items():
        for e in fx.examples:
            case = cases[e.text]
            case["text"] = e.text
            if name in ("crisis", "danger"):
                case[name] = e.label == name
                if e.label != name:
                    case["kind"] = "hard_negative"
            else:
                case[name] = None if e.label == "none" else e.label
    return list(cases.values())


def load_cases(name: str, u: Understanding) -> list[dict[str, Any]]:
    if name == "training":
        return training_cases(u)
    return yaml.safe_load(SETS[name].read_text(encoding="utf-8"))["cases"]


def measure(u: Understanding, cases: list[dict[str, Any]]) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Right / counted per row of the table, and a line per miss."""
    score: dict[str, list[int]] = {row: [0, 0] for row in ROWS}
    misses = []

    def count(row: str, ok: bool, case: dict[str, Any], got: Any) -> None:
        score[row][0] += ok
        score[row][1] += 1
        if not ok:
            misses.append(f"{row}: {case['text']!r} read {got!r}")

    for case in cases:
        s = u(case["text"])
        got = s.as_json()
        for field in ("topic", "want"):
            if field in case:
                count(field, got[field] == case.get(field), case, got[field])
        helpers = ("guardian", "school", "friend")
        if case.get("audience") in helpers:
            count("someone else's case read so", got["audience"] == case["audience"], case,
                  got["audience"])
        elif case.get("audience") == "self":
            count("own case read as someone else's", got["audience"] not in helpers, case,
                  got["audience"])
        for alarm in ("crisis", "danger"):
            if case.get(alarm):
                level = s.levels.get(alarm)
                count(f"{alarm} sure", level == SURE, case, level)
                count(f"{alarm} sure or asked", level in (SURE, MAYBE), case, level)
        if case.get("medical"):
            count("medical", s.medical, case, s.medical)
        if case.get("kind") == "hard_negative" and not case.get("crisis") and not case.get("danger"):
            count("hard negatives: false sure", not (s.crisis or s.danger), case, s.levels)
            count("hard negatives: asked", s.check is None, case, s.levels)
        if case.get("kind", "ordinary") == "ordinary" and not case.get("crisis") \
                and not case.get("danger"):
            count("ordinary: asked", s.check is None and not (s.crisis or s.danger), case,
                  s.levels)
    return {k: (v[0], v[1]) for k, v in score.items()}, misses


def cell(right: int, total: int, invert: bool = False) -> str:
    if not total:
        return "-"
    shown = total - right if invert else right
    return f"{shown}/{total} ({shown / total:.0%})"


def summary(u: Understanding | None = None) -> str:
    """The Markdown table the README quotes."""
    u = u or understanding()
    columns = {name: measure(u, load_cases(name, u))[0] for name in ("training", "validation", "holdout")}
    lines = ["| | training (examples/) | validation | held-out |", "| --- | --- | --- | --- |"]
    for row in ROWS:
        invert = row.startswith(("hard negatives", "ordinary", "own case"))  # show the false alarms, not the right answers
        lines.append(f"| {row} | " + " | ".join(cell(*columns[c][row], invert=invert)
                                                for c in columns) + " |")
    return "\n".join(lines)


def sweep(u: Understanding, name: str = "validation") -> None:
    """Recall and false alarms of the model alone at each threshold, to choose `sure` and `possible`."""
    trained = u.train()
    cases = load_cases(name, u)
    for alarm in ("crisis", "danger"):
        rows = []
        for case in cases:
            p = trained.models[alarm].scores(trained.features.row(u.analyse(case["text"])))[alarm]
            ordinary = case.get("kind", "ordinary") == "ordinary" and not case.get("crisis") \
                and not case.get("danger")
            rows.append((p, bool(case.get(alarm)), case.get("kind") == "hard_negative", ordinary))
        print(f"{alarm}: threshold, positives caught by the model alone, hard negatives and "
              "ordinary messages above it")
        pos, neg, ordn = (sum(r[i] for r in rows) for i in (1, 2, 3))
        for t in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
            caught = sum(1 for p, y, _, _ in rows if y and p >= t)
            false = sum(1 for p, _, hn, _ in rows if hn and p >= t)
            plain = sum(1 for p, _, _, o in rows if o and p >= t)
            print(f"  {t:.2f}  {caught}/{pos}  {false}/{neg}  {plain}/{ordn}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--misses" in args:
        u = understanding()
        which = [a for a in args if a in ("training",) + tuple(SETS)] or ["validation"]
        for name in which:
            print("\n".join(measure(u, load_cases(name, u))[1]) or "no misses")
    elif "--sweep" in args:
        sweep(understanding())
    else:
        print(summary())
