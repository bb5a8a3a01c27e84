"""The conversation engine: flows, their machines, and the turn-by-turn logic."""
from __future__ import annotations

from pathlib import Path

from ..yamlsrc import ContentError
from .conversation import Engine
from .flows import COMMANDS, INTERRUPTS, MESSAGES, FlowErrors, read_flow
from .machine import CompiledFlow
from .types import Button, ContactCard, ConvKey, ConvState, Inbound, Outcome, Reply, Text

__all__ = ["Button", "CompiledFlow", "ContactCard", "ConvKey", "ConvState", "Engine",
           "FlowErrors", "Inbound", "Outcome", "Reply", "Text", "load_flows", "check_flows"]


def check_flows(folder: Path, entry: str) -> tuple[dict[str, CompiledFlow], list[ContentError]]:
    """Read every flow in `folder`; return the usable ones and every problem found."""
    flows: dict[str, CompiledFlow] = {}
    errors: list[ContentError] = []
    files = sorted(folder.glob("*.yaml"))
    if not files:
        errors.append(ContentError(str(folder), None, "no flow files (*.yaml) found"))
    for path in files:
        spec, problems = read_flow(path)
        errors += problems
        if spec is None:
            continue
        if spec.name in flows:
            errors.append(ContentError(spec.file, None, f"flow name {spec.name!r} is used twice"))
        elif not any(not p.warning for p in problems):  # warnings do not stop a flow
            flows[spec.name] = CompiledFlow(spec)
    if entry in flows:
        spec = flows[entry].spec
        errors += [ContentError(spec.file, None, f"the entry flow needs the message {m!r}")
                   for m in MESSAGES if m not in spec.messages]
        errors += [ContentError(spec.file, None, f"the entry flow needs the command {c!r}")
                   for c in COMMANDS if c not in spec.commands]
        errors += [ContentError(spec.file, None, f"the entry flow needs the interrupt {i!r}")
                   for i in INTERRUPTS if i not in spec.interrupts]
        errors += [ContentError(spec.file, None, f"the entry flow needs a '{s}:' section")
                   for s in ("handoff", "deletion", "safety", "english") if not getattr(spec, s)]
    elif not errors:
        errors.append(ContentError(str(folder), None, f"no flow is named {entry!r}"))
    return flows, errors


def load_flows(folder: Path, entry: str) -> dict[str, CompiledFlow]:
    """Read and compile the flows, or raise FlowErrors listing every problem."""
    flows, errors = check_flows(folder, entry)
    if errors:
        raise FlowErrors(errors)
    return flows
