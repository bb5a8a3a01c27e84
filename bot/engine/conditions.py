"""Conditions on stored answers, as written in flows: `{audience: friend, child: true}`.

Every key must hold. A list means any of its values; `null` means not answered yet.
`not:` negates a condition and `any:` takes a list of conditions of which one must hold.
"""
from __future__ import annotations

from typing import Any, Mapping

SPECIAL = ("not", "any")


def holds(cond: Mapping[str, Any] | None, answers: Mapping[str, Any]) -> bool:
    """Tell whether a condition holds for these answers; no condition always holds."""
    if not cond:
        return True
    for key, expected in cond.items():
        if key == "not":
            if holds(expected, answers):
                return False
        elif key == "any":
            if not any(holds(c, answers) for c in expected):
                return False
        elif not _value_matches(answers.get(key), expected):
            return False
    return True


def _value_matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return any(_value_matches(actual, e) for e in expected)
    if isinstance(actual, list):
        return expected in actual
    return actual == expected


def problems(cond: Any) -> list[str]:
    """Return what is wrong with a condition's shape, for the flow checker."""
    if not isinstance(cond, dict):
        return ["a condition must be a mapping such as {want: delete}"]
    found = []
    for key, value in cond.items():
        if key == "not":
            found += problems(value)
        elif key == "any":
            if not isinstance(value, list) or not value:
                found.append("'any' takes a list of conditions")
            else:
                for c in value:
                    found += problems(c)
        elif isinstance(value, dict):
            found.append(f"the value of {key!r} must be a value or a list of values")
    return found
