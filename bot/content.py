"""Everything editors write, loaded and checked together: flows, windows, rules and examples."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

from .contacts import ALERTS, Directory, load_directory
from .contacts.cards import SPEC_KEYS, renderer
from .engine import Engine, check_flows
from .nlu import Understanding, load_understanding
from .staff import StaffDesk, read_staff
from .vocabulary import check_contact_conditions, check_vocabulary
from .yamlsrc import ContentError


class ContentErrors(Exception):
    """Content that must not go live, with every problem as `file:line: message`."""

    def __init__(self, errors: list[ContentError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass
class Content:
    """The engine built from the content, and the windows directory it uses."""

    engine: Engine
    directory: Directory
    classifier: Understanding
    staff: StaffDesk | None = None
    warnings: list[ContentError] = field(default_factory=list)


def check_content(config: Mapping[str, Any]) -> tuple[Content | None, list[ContentError]]:
    """Load all content; return it (None if unusable) and every problem found.

    Warnings do not stop content from going live; with it they are in `Content.warnings`.
    """
    flows, errors = check_flows(Path(config["FLOWS_DIR"]), config["ENTRY_FLOW"])
    directory, contact_errors = load_directory(Path(config["CONTACTS_FILE"]))
    cache = config.get("MODEL_CACHE_DIR")
    understanding, nlu_problems = load_understanding(Path(config["KEYWORDS_FILE"]),
                                                     Path(config["EXAMPLES_DIR"]),
                                                     cache_dir=Path(cache) if cache else None)
    staff, staff_errors = read_staff(Path(config["STAFF_FILE"]))
    errors += contact_errors + nlu_problems + staff_errors + _contact_refs(flows, directory)
    errors += [e for flow in flows.values() for e in check_vocabulary(flow.spec)]
    errors += check_contact_conditions(directory.all)
    if any(not e.warning for e in errors) or understanding is None:
        return None, errors
    engine = Engine(flows, config["ENTRY_FLOW"],
                    idle_timeout=timedelta(hours=config["IDLE_TIMEOUT_HOURS"]),
                    contacts=renderer(directory), classifier=understanding, staff=staff)
    return Content(engine, directory, understanding, staff, errors), []


def load_content(config: Mapping[str, Any]) -> Content:
    """Load all content, or raise ContentErrors listing every problem."""
    content, errors = check_content(config)
    if content is None:
        raise ContentErrors(errors)
    return content


def _contact_refs(flows: Mapping[str, Any], directory: Directory) -> list[ContentError]:
    """Windows named in flows must exist and be enabled; specs must use known keys."""
    known = {c.id for c in directory.enabled}
    errors = []
    for flow in flows.values():
        spec = flow.spec
        items = [(f"state {s.name!r}", i) for s in spec.states.values() for i in s.say]
        items += [(f"interrupt {n}", i) for n, say in spec.interrupts.items() for i in say]
        for where, item in items:
            if item.contacts is None:
                continue
            for key in set(item.contacts) - SPEC_KEYS:
                errors.append(ContentError(spec.file, item.line, f"{where}: unknown key {key!r} in "
                                           f"contacts; allowed: {', '.join(sorted(SPEC_KEYS))}"))
            kind = item.contacts.get("alert")
            if kind is not None and kind not in ALERTS:
                errors.append(ContentError(spec.file, item.line, f"{where}: unknown alert {kind!r}; "
                                           f"alerts are: {', '.join(ALERTS)}"))
            for cid in item.contacts.get("ids") or []:
                if cid not in known:
                    errors.append(ContentError(spec.file, item.line, f"{where}: window {cid!r} is not "
                                               "an enabled contact in contacts.yaml"))
    return errors
