"""One compiled `transitions` machine per flow, serving every conversation.

The machine holds no conversation: for each event a throwaway model carries the
stored state through one trigger, so one machine serves all users and threads.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Mapping

from transitions import EventData, Machine

from .conditions import holds
from .flows import FlowSpec, Route

NEXT = "__next__"  # the trigger of a state's automatic `next`


class _When:
    """A transition condition that reads the answers passed with the trigger."""

    def __init__(self, cond: dict | None):
        self.cond = cond

    def __call__(self, event: EventData) -> bool:
        return holds(self.cond, event.kwargs["answers"])


def _transitions(trigger: str, source: str, routes: tuple[Route, ...]) -> list[dict[str, Any]]:
    return [{"trigger": trigger, "source": source, "dest": r.to, "conditions": [_When(r.when)]}
            for r in routes]


class CompiledFlow:
    """A flow spec and its state machine."""

    def __init__(self, spec: FlowSpec):
        self.spec = spec
        transitions: list[dict[str, Any]] = []
        for state in spec.states.values():
            for button in state.buttons:
                transitions += _transitions(button.id, state.name, button.routes)
            transitions += _transitions(NEXT, state.name, state.next)
        self.machine = Machine(model=None, states=list(spec.states), transitions=transitions,
                               initial=spec.start, auto_transitions=False, send_event=True,
                               ignore_invalid_triggers=True)

    def fire(self, state: str, trigger: str, answers: Mapping[str, Any]) -> str | None:
        """Return the state `trigger` leads to from `state`, or None if it leads nowhere."""
        event = self.machine.events.get(trigger)
        if event is None or not event.transitions.get(state):
            return None
        model = SimpleNamespace(state=state)
        return model.state if event.trigger(model, answers=answers) else None
