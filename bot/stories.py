"""Conversation tests that editors write: `stories/*.yaml`, run against the real engine.

A story is a list of steps. Each step does one thing (`follow`, `say: TEXT`,
`tap: LABEL`), optionally at a time (`at:`, kept for later steps), and checks
the reply with `expect:`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import yamlsrc
from .clock import JST, read_time
from .engine import ContactCard, Engine, Inbound, Outcome
from .yamlsrc import ContentError

STORY_KEYS = {"story", "at", "steps"}
STEP_KEYS = {"follow", "say", "tap", "at", "expect"}
EXPECT_KEYS = {"contains", "not_contains", "first", "state", "windows", "no_windows", "order",
               "open", "buttons"}


@dataclass
class Step:
    """One thing the person does, and what the reply must show."""

    line: int
    action: str  # follow | say | tap
    value: str = ""
    at: datetime | None = None
    expect: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return "follow" if self.action == "follow" else f"{self.action} {self.value!r}"


@dataclass
class Story:
    """A named list of steps from one file."""

    file: str
    name: str
    at: datetime
    steps: list[Step]


@dataclass
class Failure:
    """A step whose reply did not match: where, what was expected, what the bot said."""

    file: str
    step_no: int
    step: Step
    problems: list[str]
    said: str

    def __str__(self) -> str:
        head = f"{self.file}:{self.step.line}: step {self.step_no} ({self.step.describe()})"
        return "\n".join([head] + [f"  expected {p}" for p in self.problems]
                         + ["  the bot said:"] + [f"    | {l}" for l in self.said.splitlines()])


def _time(value: Any, check: yamlsrc.Checker, line: int) -> datetime | None:
    try:
        return read_time(value)
    except ValueError as exc:
        check.error(line, str(exc))
        return None


def read_story(path: Path, name: str | None = None) -> tuple[Story | None, list[ContentError]]:
    """Read one story file; return it and every problem found."""
    shown = name or f"stories/{path.name}"
    try:
        doc = yamlsrc.load(path, shown)
    except ContentError as exc:
        return None, [exc]
    check = yamlsrc.Checker(shown)
    if not check.keys(doc, STORY_KEYS, "a story") or not isinstance(doc.get("steps"), list):
        check.error(yamlsrc.line_of(doc), "a story needs 'steps:', a list")
        return None, check.errors
    start = _time(doc.get("at", "2026-11-24T10:00+09:00"), check, doc.line_of("at"))
    steps = []
    for node, line in zip(doc["steps"], doc["steps"].item_lines):
        if node == "follow":
            steps.append(Step(line, "follow"))
            continue
        if not check.keys(node, STEP_KEYS, "a step"):
            continue
        actions = [k for k in ("follow", "say", "tap") if k in node]
        if len(actions) != 1:
            check.error(line, "a step does one thing: follow, say: TEXT or tap: LABEL")
            continue
        expect = node.get("expect") or {}
        check.keys(expect, EXPECT_KEYS, "expect")
        _check_shapes(expect, check, line)
        at = _time(node["at"], check, node.line_of("at")) if "at" in node else None
        steps.append(Step(line, actions[0], str(node.get(actions[0]) or ""), at, dict(expect)))
    story = Story(shown, str(doc.get("story") or path.stem), start or datetime.now(JST), steps)
    return (story if not check.errors else None), check.errors


def _check_shapes(expect: Any, check: yamlsrc.Checker, line: int) -> None:
    """Window ids and texts are strings (no_windows: true would check nothing, silently)."""
    if not isinstance(expect, dict):
        return
    for key in ("contains", "not_contains", "windows", "no_windows", "order", "buttons"):
        if key in expect and not all(isinstance(v, str) for v in _as_list(expect[key])):
            check.error(line, f"expect {key!r} takes a text or a list of texts, not "
                              f"{expect[key]!r} (a number is a text in quotes: '110')")
    opened = expect.get("open")
    if opened is not None and not (isinstance(opened, dict) and
                                   all(isinstance(v, bool) for v in opened.values())):
        check.error(line, "expect 'open' maps window ids to true or false: {mext_sos: true}")


def _said(outcome: Outcome) -> str:
    lines = []
    for m in outcome.reply.messages:
        lines += m.as_text().splitlines() if isinstance(m, ContactCard) else m.text.splitlines()
        lines.append("")
    if outcome.reply.buttons:
        lines.append("[buttons] " + " / ".join(b.label for b in outcome.reply.buttons))
    lines.append(f"[state] {outcome.conv.state}")
    return "\n".join(lines)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def check_reply(expect: dict[str, Any], outcome: Outcome) -> list[str]:
    """What the reply fails of the expectations (empty when it meets them all)."""
    texts = "\n".join(outcome.reply.texts())
    cards = {m.contact_id: m for m in outcome.reply.messages if isinstance(m, ContactCard)}
    labels = [b.label for b in outcome.reply.buttons]
    problems = [f"the reply to contain {t!r}" for t in _as_list(expect.get("contains", []))
                if t not in texts]
    problems += [f"the reply not to contain {t!r}" for t in _as_list(expect.get("not_contains", []))
                 if t in texts]
    first = expect.get("first")
    if first and not (outcome.reply.texts() and first in outcome.reply.texts()[0]):
        problems.append(f"the first message to contain {first!r}")
    if "state" in expect and outcome.conv.state != expect["state"]:
        problems.append(f"state {expect['state']!r}, got {outcome.conv.state!r}")
    missing = [w for w in _as_list(expect.get("windows", [])) if w not in cards]
    if missing:
        problems.append(f"windows {missing} listed; listed were {list(cards)}")
    unwanted = [w for w in _as_list(expect.get("no_windows", [])) if w in cards]
    if unwanted:
        problems.append(f"windows {unwanted} not listed")
    order = _as_list(expect.get("order", []))
    if order and list(cards)[:len(order)] != order:
        problems.append(f"the first windows listed to be {order}; listed were {list(cards)}")
    for wid, is_open in (expect.get("open") or {}).items():
        if wid not in cards:
            problems.append(f"window {wid!r} listed with open_now {is_open}; it was not listed")
        elif cards[wid].open_now is not is_open:
            problems.append(f"window {wid!r} open_now {is_open}, got {cards[wid].open_now}")
    missing_buttons = [b for b in _as_list(expect.get("buttons", [])) if b not in labels]
    if missing_buttons:
        problems.append(f"buttons {missing_buttons}; offered were {labels}")
    return problems


def unknown_windows(story: Story, known: set[str]) -> list[ContentError]:
    """Window ids a story names that contacts.yaml does not have: a typo in no_windows
    (sakura_citty) would otherwise pass for ever. (A disabled window may be named: that it
    never shows is worth checking.)"""
    out = []
    for step in story.steps:
        named = [w for key in ("windows", "no_windows", "order")
                 for w in _as_list(step.expect.get(key, []))]
        named += list((step.expect.get("open") or {}).keys())
        for wid in dict.fromkeys(named):
            if wid not in known:
                out.append(ContentError(story.file, step.line, f"window {wid!r} is not a window "
                                        "of contacts.yaml: check its id"))
    return out


def run_story(engine: Engine, story: Story) -> list[Failure]:
    """Play a story through the engine; return the steps that failed."""
    conv, outcome, now = None, None, story.at
    failures = []
    for number, step in enumerate(story.steps, 1):
        now = step.at or now
        if step.action == "tap":
            offered: dict[str, Any] = {b.label: b for b in outcome.reply.buttons} if outcome else {}
            if step.value not in offered:
                said = _said(outcome) if outcome else "(nothing yet)"
                failures.append(Failure(story.file, number, step, [
                    f"a button {step.value!r} to tap; offered were {list(offered)}"], said))
                break
            button = offered[step.value]
            inbound = Inbound("button", now, text=button.text, data=button.data)
        elif step.action == "say":
            inbound = Inbound("text", now, text=step.value)
        else:
            inbound = Inbound("follow", now)
        outcome = engine.handle(conv, inbound)
        conv = outcome.conv
        problems = check_reply(step.expect, outcome)
        if problems:
            failures.append(Failure(story.file, number, step, problems, _said(outcome)))
    return failures
