"""A flow's state machine as a picture: Mermaid text, or DOT for Graphviz (SVG).

Both are drawn from the same edges, read from the flow spec, so the picture
cannot drift from the flow.
"""
from __future__ import annotations

from dataclasses import dataclass

from .flows import FlowSpec, Route

ANYWHERE = "anywhere"  # a pseudo-state for commands that work in every state
PSEUDO = {ANYWHERE: "any state", "handoff": "staff take over", "deletion": "data deleted"}


@dataclass(frozen=True)
class Edge:
    """One arrow: from a state to a state (or the end), with what takes it there."""

    src: str
    dst: str
    label: str


def _condition(route: Route) -> str:
    if not route.when:
        return ""
    parts = [f"{k}={'|'.join(map(str, v)) if isinstance(v, list) else v}"
             for k, v in route.when.items()]
    return f" [{', '.join(parts)}]"


def edges(spec: FlowSpec) -> list[Edge]:
    """Every way through the flow, in the order the file gives them."""
    out: list[Edge] = []
    for state in spec.states.values():
        for button in state.buttons:
            if button.command == "restart":
                out.append(Edge(state.name, spec.start, button.label))
            elif button.command == "staff":
                out.append(Edge(state.name, "handoff", button.label))
            for route in button.routes:
                out.append(Edge(state.name, route.to, button.label + _condition(route)))
        for route in state.next:
            out.append(Edge(state.name, route.to, "(auto)" + _condition(route)))
        if state.end:
            out.append(Edge(state.name, "[*]", "end"))
    for command in spec.commands.values():
        if command.to:
            out.append(Edge(ANYWHERE, command.to, command.label))
    if spec.handoff:
        out.append(Edge(ANYWHERE, "handoff", spec.handoff["label"]))
        out.append(Edge("handoff", spec.start, spec.handoff["cancel_label"]))
    if spec.deletion:
        out.append(Edge(ANYWHERE, "deletion", spec.deletion["words"][0]))
    return out


def mermaid(spec: FlowSpec) -> str:
    """The flow as a Mermaid state diagram."""
    lines = ["stateDiagram-v2", "  direction LR"]
    lines += [f'  state "{label}" as {name}' for name, label in PSEUDO.items()]
    lines.append(f"  [*] --> {spec.start}")
    lines += [f"  {e.src} --> {e.dst}: {e.label}" for e in edges(spec)]
    return "\n".join(lines) + "\n"


def dot(spec: FlowSpec) -> str:
    """The flow in Graphviz's DOT language."""
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {q(spec.name)} {{", "  rankdir=LR;",
             '  node [shape=box, style=rounded, fontname="sans-serif"];',
             '  edge [fontname="sans-serif", fontsize=10];',
             '  "[start]" [shape=circle, label="", width=0.2, style=filled, fillcolor=black];',
             '  "[*]" [shape=doublecircle, label="", width=0.15, style=filled, fillcolor=black];',
             *[f'  {q(name)} [label={q(label)}, style=dashed];' for name, label in PSEUDO.items()],
             f'  "[start]" -> {q(spec.start)};']
    lines += [f"  {q(e.src)} -> {q(e.dst)} [label={q(e.label)}];" for e in edges(spec)]
    return "\n".join(lines + ["}"]) + "\n"
