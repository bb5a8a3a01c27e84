"""Checks over a whole flow: targets exist, every state is reached, none is a dead end."""
from __future__ import annotations

from typing import Any, Iterator

from ..yamlsrc import ContentError
from .flows import FlowSpec, Route, StateSpec


def targets(state: StateSpec) -> Iterator[tuple[str, Route]]:
    """Yield (what, route) for every way out of a state."""
    for button in state.buttons:
        for route in button.routes:
            yield f"button {button.id!r}", route
    for route in state.next:
        yield "next", route


def check_graph(spec: FlowSpec, states_node: Any) -> list[ContentError]:
    """Return the problems of a flow's shape, each at the line of the state concerned."""
    errors = []

    def error(state: str, message: str, line: int | None = None, warning: bool = False) -> None:
        errors.append(ContentError(spec.file, line or states_node.line_of(state), message,
                                   warning=warning))

    for state in spec.states.values():
        for what, route in targets(state):
            if route.to not in spec.states:
                error(state.name, f"{what} of state {state.name!r} goes to {route.to!r}, "
                      f"which is not a state; states are: {', '.join(spec.states)}", route.line)
        for button in state.buttons:
            if not button.routes and not button.command:  # it records its answer and stays
                error(state.name, f"button {button.id!r} of state {state.name!r} has no 'to': "
                      "tapped, it keeps its answer and asks the same question again; give it "
                      "'to: STATE' if it should move on", button.line, warning=True)
        if not state.end and not state.next and not any(b.routes or b.command
                                                        for b in state.buttons):
            error(state.name, f"state {state.name!r} has no way out: give it buttons with "
                  "'to', a 'next', or mark it 'end: true'")
    for command in spec.commands.values():
        if command.to is not None and command.to not in spec.states:
            errors.append(ContentError(spec.file, None, f"command {command.name!r} goes to "
                                       f"{command.to!r}, which is not a state"))
    reached = _reachable(spec)
    for name in spec.states:
        if name not in reached:
            error(name, f"state {name!r} is never reached from {spec.start!r} or a command")
    return errors


def _reachable(spec: FlowSpec) -> set[str]:
    todo = [spec.start] + [c.to for c in spec.commands.values() if c.to in spec.states]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in spec.states:
            continue
        seen.add(name)
        todo.extend(route.to for _, route in targets(spec.states[name]))
    return seen
