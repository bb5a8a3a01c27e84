"""keywords.yaml: the editors' rules, read and checked with file:line errors."""
from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import yamlsrc
from ..yamlsrc import ContentError
from .patterns import Pattern, PatternError, compile_pattern
from .text import Spelling

ALARMS = ("danger", "crisis")
POSSIBLE = "possible"
FIELDS: dict[str, tuple[Any, ...]] = {
    "topic": ("defamation", "privacy", "impersonation", "stalking", "threat", "sexual_image",
              "account", "illegal_report", "bullying", "other"),
    "want": ("delete", "identify", "damages", "police", "talk", "unsure"),
    "audience": ("self", "guardian", "school", "friend"),
    "child": (True,), "woman": (True,), "foreigner": (True,), "partner": (True,),
    "danger": (True, POSSIBLE), "crisis": (True, POSSIBLE), "medical": (True,),
}
FLAG_FIELDS = ("child", "woman", "foreigner", "partner")
RULE_KEYS = {"id", "any", "all", "none", "set", "note"}
SPELLING_KEYS = {"write", "read", "before", "note"}


@dataclass(frozen=True)
class Rule:
    """One rule: indices into the rule set's patterns, and what it sets."""

    id: str
    any: tuple[int, ...]
    all: tuple[tuple[int, ...], ...]
    none: tuple[int, ...]
    set: dict[str, Any]
    line: int = 0

    def fires(self, found: Set[int]) -> bool:
        """Does the rule fire, given the patterns found in a message?"""
        return self.matches(found) and found.isdisjoint(self.none)

    def matches(self, found: Set[int]) -> bool:
        """Are its `any` and `all` patterns there (whatever its `none` says)?"""
        if self.any and found.isdisjoint(self.any):
            return False
        return not any(found.isdisjoint(group) for group in self.all)

    def held_back(self, found: Set[int]) -> bool:
        """Its words are there, but so is one of its `none` patterns (a film, a joke)."""
        return bool(self.none) and self.matches(found) and not found.isdisjoint(self.none)


@dataclass
class RuleSet:
    """All rules of keywords.yaml, their patterns and the spelling rewrites."""

    rules: list[Rule] = field(default_factory=list)
    patterns: list[Pattern] = field(default_factory=list)
    spellings: tuple[Spelling, ...] = ()


class _Reader(yamlsrc.Checker):
    def __init__(self, name: str):
        super().__init__(name)
        self.patterns: list[Pattern] = []

    def patterns_of(self, node: Any, line: int, what: str, rid: str) -> tuple[int, ...]:
        out = []
        for text in self.strings(node, line, what):
            try:
                self.patterns.append(compile_pattern(text))
            except PatternError as exc:
                self.error(line, f"rule {rid!r}: {exc}")
                continue
            out.append(len(self.patterns) - 1)
        return tuple(out)

    def spellings(self, node: Any) -> tuple[Spelling, ...]:
        out = []
        for item, line in zip(node or [], getattr(node, "item_lines", [])):
            if not self.keys(item, SPELLING_KEYS, "a spelling"):
                continue
            write, read = item.get("write"), item.get("read")
            if not isinstance(write, str) or not write or not isinstance(read, str) or not read:
                self.error(line, "a spelling needs 'write' (what people type) and 'read' "
                           "(the word it stands for)")
                continue
            before = self.strings(item.get("before"), item.line_of("before"), "'before'")
            out.append(Spelling(write, read, before, line))
        return tuple(out)


def read_rules(path: Path, name: str = "keywords.yaml") -> tuple[RuleSet, list[ContentError]]:
    """Read keywords.yaml; return the rules and every problem found."""
    try:
        doc = yamlsrc.load(path, name)
    except ContentError as exc:
        return RuleSet(), [exc]
    check = _Reader(name)
    if not check.keys(doc, {"rules", "spellings"}, "keywords.yaml") or \
            not isinstance(doc.get("rules"), list):
        check.error(yamlsrc.line_of(doc) or None, "keywords.yaml needs 'rules:', a list")
        return RuleSet(), check.errors
    spellings = check.spellings(doc.get("spellings"))
    rules, seen = [], set()
    for node, line in zip(doc["rules"], doc["rules"].item_lines):
        if not check.keys(node, RULE_KEYS, "a rule"):
            continue
        rid = str(node.get("id", ""))
        if not rid or rid in seen:
            check.error(line, f"rule id {rid!r} is missing or used twice")
        seen.add(rid)
        any_ = check.patterns_of(node.get("any"), node.line_of("any"), "'any'", rid)
        groups = node.get("all") or []
        if not isinstance(groups, list) or not all(isinstance(g, list) and g for g in groups):
            check.error(node.line_of("all"), "'all' must be a list of pattern lists")
            groups = []
        all_ = tuple(check.patterns_of(g, node.line_of("all"), "'all'", rid) for g in groups)
        if not node.get("any") and not groups:  # (a pattern that failed is reported already)
            check.error(line, f"rule {rid!r} needs 'any' patterns or 'all' groups")
        none = check.patterns_of(node.get("none"), node.line_of("none"), "'none'", rid)
        values = _values(check, node, rid)
        rules.append(Rule(rid, any_, all_, none, values, line))
    ruleset = RuleSet(rules, check.patterns, spellings)
    for i, rule in enumerate(rules):
        shadow = shadowed_by(rule, rules[:i], ruleset.patterns)
        if shadow:
            check.error(rule.line, f"rule {rule.id!r} can never change anything: rule "
                        f"{shadow.id!r} (line {shadow.line}) fires whenever it does and already "
                        f"sets {', '.join(rule.set)}; move it above or change its words")
    return ruleset, check.errors


def _values(check: _Reader, node: Any, rid: str) -> dict[str, Any]:
    values = node.get("set") or {}
    if not isinstance(values, dict) or not values:
        check.error(node.line, f"rule {rid!r} sets nothing")
        return {}
    for key, value in values.items():
        if key not in FIELDS or value not in FIELDS[key]:
            check.error(node.line_of("set"), f"rule {rid!r} sets {key}: {value!r}; allowed: "
                        + "; ".join(f"{k}: {', '.join(map(_show, v))}" for k, v in FIELDS.items()))
    return dict(values)


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _contains(piece: tuple, part: tuple) -> bool:
    """Is `part` a run of words inside `piece` (so a match of piece is a match of part)?"""
    n = len(part)
    return any(piece[i:i + n] == part for i in range(len(piece) - n + 1))


def _implies(pattern: Pattern, earlier: Pattern) -> bool:
    """Whenever `pattern` matches, `earlier` (one piece) matches too."""
    return len(earlier.pieces) == 1 and any(_contains(p, earlier.pieces[0]) for p in pattern.pieces)


def shadowed_by(rule: Rule, earlier: list[Rule], patterns: list[Pattern]) -> Rule | None:
    """The earlier rule that makes `rule` useless: it always fires first and sets every field."""
    def covers(e: Rule) -> bool:
        if e.all or e.none or not e.any:
            return False
        hits = [any(_implies(patterns[p], patterns[q]) for q in e.any) for p in rule.any]
        if rule.any and all(hits):
            return True
        return any(all(any(_implies(patterns[p], patterns[q]) for q in e.any) for p in g)
                   for g in rule.all)

    covering = [e for e in earlier if set(e.set) & set(rule.set) and covers(e)]
    # An alarm is settled only by an earlier rule that raises it at least as high.
    settled = {key for e in covering for key, value in e.set.items()
               if key not in ALARMS or value is True or value == rule.set.get(key)}
    if rule.set and set(rule.set) <= settled:
        return next(e for e in covering if set(rule.set) & set(e.set))
    return None
