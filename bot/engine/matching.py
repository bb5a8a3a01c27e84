"""Which button a person's tap or words mean, in the state they are in."""
from __future__ import annotations

from typing import Any, Mapping

from .flows import ButtonSpec, StateSpec
from .normalize import folded_words, normalize


def exact_button(state: StateSpec, text: str) -> ButtonSpec | None:
    """The button whose label or one of whose words is exactly what was typed."""
    said = normalize(text)
    if not said:
        return None
    return next((b for b in state.buttons
                 if said in folded_words((b.label,) + b.words)), None)


def contained_button(state: StateSpec, text: str) -> ButtonSpec | None:
    """The one button whose words appear in what was typed (none if several do)."""
    said = normalize(text)
    found = [b for b in state.buttons
             if any(len(w) >= 2 and w in said for w in folded_words(b.words))]
    return found[0] if said and len(found) == 1 else None


def answer_button(state: StateSpec, answers: Mapping[str, Any]) -> ButtonSpec | None:
    """For a question whose answer is already known, the button that gives that answer."""
    if state.asks is None or state.asks not in answers:
        return None
    value = answers[state.asks]
    return next((b for b in state.buttons if b.set.get(state.asks) == value), None)


def match_button(state: StateSpec, text: str) -> ButtonSpec | None:
    """Find the one button typed words mean: a label or word said exactly, else one contained."""
    return exact_button(state, text) or contained_button(state, text)
