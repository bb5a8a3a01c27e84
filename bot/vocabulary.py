"""The answers flows may set and test, and their allowed values (shared by flows and rules)."""
from __future__ import annotations

from typing import Any, Iterator

from .contacts.model import ROLES, TOPICS, WANTS, WHEN_KEYS, Contact
from .engine.conditions import SPECIAL
from .engine.flows import FlowSpec
from .yamlsrc import ContentError

ANSWERS: dict[str, tuple[Any, ...]] = {
    "topic": TOPICS, "want": WANTS, "audience": ROLES,
    "child": (True, False, "unknown"), "woman": (True, False), "foreigner": (True, False),
    "partner": (True, False, "unknown"),
}


def _pairs(cond: Any) -> Iterator[tuple[str, Any]]:
    for key, value in (cond or {}).items():
        if key == "not":
            yield from _pairs(value)
        elif key == "any":
            for c in value:
                yield from _pairs(c)
        elif key not in SPECIAL:
            for v in (value if isinstance(value, list) else [value]):
                yield key, v


def _checker(file: str, errors: list[ContentError]):
    def check(line: int, key: str, value: Any, where: str) -> None:
        if key not in ANSWERS:
            errors.append(ContentError(file, line, f"{where} uses the answer {key!r}, which is "
                                       f"not defined; answers are: {', '.join(ANSWERS)}"))
        elif value is not None and value not in ANSWERS[key]:
            errors.append(ContentError(file, line, f"{where}: {key} {value!r} is not defined; "
                                       f"allowed: {', '.join(map(str, ANSWERS[key]))}"))
    return check


def check_contact_conditions(contacts: list[Contact], file: str = "contacts.yaml") -> list[ContentError]:
    """Conditions in contacts.yaml (first_when, ...) must test known answers and values."""
    errors: list[ContentError] = []
    check = _checker(file, errors)
    for c in contacts:
        for name in WHEN_KEYS:
            for key, value in _pairs(getattr(c, name)):
                check(c.when_lines.get(name, c.line), key, value, f"contact {c.id!r} {name}")
    return errors


def check_vocabulary(spec: FlowSpec) -> list[ContentError]:
    """Answers set or tested in a flow must be known keys with allowed values."""
    errors: list[ContentError] = []
    check = _checker(spec.file, errors)

    for state in spec.states.values():
        if state.asks is not None:
            check(state.line, state.asks, None, f"state {state.name!r}")
        for b in state.buttons:
            for key, value in b.set.items():
                check(b.line, key, value, f"button {b.id!r}")
            for r in b.routes:
                for key, value in _pairs(r.when):
                    check(r.line or b.line, key, value, f"button {b.id!r}")
        for r in state.next:
            for key, value in _pairs(r.when):
                check(r.line or state.line, key, value, f"state {state.name!r}")
        for item in state.say:
            for key, value in _pairs(item.when):
                check(item.line or state.line, key, value, f"state {state.name!r}")
    return errors
