"""Recognise topic, want, audience, danger and crisis in a person's own words.

Rules come from `keywords.yaml`, in order. A rule fires when its text holds
one of its `any` words, one word of every `all` group, and none of its `none`
words (all compared after `normalize`). For each field, the first rule that
fires and sets it wins; `danger` and `crisis` are raised by any rule.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import yamlsrc
from ..yamlsrc import ContentError
from .normalize import normalize

FIELDS = {
    "topic": ("defamation", "privacy", "impersonation", "stalking", "threat", "sexual_image",
              "account", "illegal_report", "bullying", "other"),
    "want": ("delete", "identify", "damages", "police", "talk", "unsure"),
    "audience": ("self", "guardian", "school", "friend"),
    "child": (True,), "woman": (True,), "foreigner": (True,),
    "danger": (True,), "crisis": (True,),
}
FLAG_FIELDS = ("child", "woman", "foreigner")
RULE_KEYS = {"id", "any", "all", "none", "set", "note"}


@dataclass(frozen=True)
class Rule:
    """One keyword rule, its words already normalised."""

    id: str
    any: tuple[str, ...]
    all: tuple[tuple[str, ...], ...]
    none: tuple[str, ...]
    set: dict[str, Any]
    line: int = 0

    def fires(self, text: str) -> bool:
        """Does this (normalised) text trigger the rule?"""
        if self.any and not any(w in text for w in self.any):
            return False
        if any(not any(w in text for w in group) for group in self.all):
            return False
        return not any(w in text for w in self.none)


@dataclass
class Signals:
    """What one message showed."""

    values: dict[str, Any] = field(default_factory=dict)
    matched: list[str] = field(default_factory=list)

    @property
    def danger(self) -> bool:
        return bool(self.values.get("danger"))

    @property
    def crisis(self) -> bool:
        return bool(self.values.get("crisis"))

    def answers(self) -> dict[str, Any]:
        """The values that are interview answers (not the danger and crisis alarms)."""
        return {k: v for k, v in self.values.items() if k not in ("danger", "crisis")}

    def as_json(self) -> dict[str, Any]:
        """The shape `flask --app bot classify` prints."""
        v = self.values
        return {"topic": v.get("topic"), "want": v.get("want"), "audience": v.get("audience"),
                "flags": [f for f in FLAG_FIELDS if v.get(f)],
                "danger": self.danger, "crisis": self.crisis, "matched": list(self.matched)}


class Classifier:
    """Runs the keyword rules over a message."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules

    def __call__(self, text: str) -> Signals:
        said = normalize(text)
        signals = Signals()
        if not said:
            return signals
        for rule in self.rules:
            if rule.fires(said):
                signals.matched.append(rule.id)
                for key, value in rule.set.items():
                    signals.values.setdefault(key, value)
        return signals


def read_rules(path: Path, name: str = "keywords.yaml") -> tuple[list[Rule], list[ContentError]]:
    """Read keywords.yaml; return the rules and every problem found."""
    try:
        doc = yamlsrc.load(path, name)
    except ContentError as exc:
        return [], [exc]
    check = yamlsrc.Checker(name)
    if not check.keys(doc, {"rules"}, "keywords.yaml") or not isinstance(doc.get("rules"), list):
        check.error(yamlsrc.line_of(doc) or None, "keywords.yaml needs 'rules:', a list")
        return [], check.errors
    rules, seen = [], set()
    for node, line in zip(doc["rules"], doc["rules"].item_lines):
        if not check.keys(node, RULE_KEYS, "a rule"):
            continue
        rid = str(node.get("id", ""))
        if not rid or rid in seen:
            check.error(line, f"rule id {rid!r} is missing or used twice")
        seen.add(rid)
        words = check.strings(node.get("any"), node.line_of("any"), "'any'")
        groups = node.get("all") or []
        if not isinstance(groups, list) or not all(isinstance(g, list) and g for g in groups):
            check.error(node.line_of("all"), "'all' must be a list of word lists")
            groups = []
        if not words and not groups:
            check.error(line, f"rule {rid!r} needs 'any' words or 'all' groups")
        values = node.get("set") or {}
        for key, value in (values.items() if isinstance(values, dict) else []):
            if key not in FIELDS or value not in FIELDS[key]:
                check.error(node.line_of("set"), f"rule {rid!r} sets {key}: {value!r}; allowed: "
                            + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in FIELDS.items()))
        if not values:
            check.error(line, f"rule {rid!r} sets nothing")
        rules.append(Rule(rid, _norm(words), tuple(_norm(g) for g in groups),
                          _norm(check.strings(node.get("none"), node.line_of("none"), "'none'")),
                          dict(values) if isinstance(values, dict) else {}, line))
    for i, rule in enumerate(rules):
        shadow = shadowed_by(rule, rules[:i])
        if shadow:
            check.error(rule.line, f"rule {rule.id!r} can never change anything: rule "
                        f"{shadow.id!r} (line {shadow.line}) fires whenever it does and already "
                        f"sets {', '.join(rule.set)}; move it above or change its words")
    return rules, check.errors


def _covers(earlier: Rule, rule: Rule) -> bool:
    """Whenever `rule` fires, `earlier` fires too (so far as words alone can tell)."""
    if earlier.all or earlier.none or not earlier.any:
        return False

    def contains_one(word: str) -> bool:  # a text holding `word` holds one of earlier's words
        return any(w in word for w in earlier.any)

    if rule.any and all(contains_one(w) for w in rule.any):
        return True
    return any(all(contains_one(w) for w in group) for group in rule.all)


def shadowed_by(rule: Rule, earlier: list[Rule]) -> Rule | None:
    """The earlier rule that makes `rule` useless: it always fires first and sets every field."""
    covering = [e for e in earlier if _covers(e, rule)]
    settled = {key for e in covering for key in e.set}
    if rule.set and set(rule.set) <= settled:
        return next(e for e in covering if set(rule.set) & set(e.set))
    return None


def _norm(words: Any) -> tuple[str, ...]:
    return tuple(n for n in (normalize(str(w)) for w in words) if n)
