"""Windows as the person reads them: what it does, the number and its cost, open or not."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from ..engine.types import ContactCard, Inbound, Message, Text
from . import Contact, Directory

SPEC_KEYS = {"match", "alert", "all", "ids", "limit", "fallback", "open_only"}
DEFAULT_LIMIT = 4


def card(directory: Directory, contact: Contact, at: datetime) -> ContactCard:
    """One window as a card, with its status at `at`."""
    status = directory.status(contact, at)
    lines = [contact.summary]
    lines += [f"☎ {p.describe()}" for p in contact.phones]
    lines.append(status.describe(at))
    if contact.hours.note and not contact.hours.unknown:
        lines.append(contact.hours.note)
    return ContactCard(contact.id, f"■ {contact.name}（{contact.operator}）", tuple(lines),
                       contact.url, status.open_now)


def listing(directory: Directory, at: datetime) -> Text:
    """Every enabled window in one compact list."""
    rows = []
    for c in directory.ordered(directory.enabled, at):
        status = directory.status(c, at)
        reach = " / ".join(p.number for p in c.phones) or (c.url or "")
        mark = {True: "受付中", False: "時間外", None: "時間は要確認"}[status.open_now]
        rows.append(f"・{c.name}（{mark}）\n　{reach}")
    return Text("\n".join(rows))


def renderer(directory: Directory):
    """The engine's hook for `contacts:` messages in flows."""

    def render(spec: Mapping[str, Any], answers: Mapping[str, Any], inbound: Inbound) -> list[Message]:
        at = inbound.at
        if spec.get("all"):
            return [listing(directory, at)]
        if spec.get("alert"):
            found = directory.alerts(spec["alert"], answers, at)
        elif spec.get("ids"):
            found = directory.ordered([c for c in map(directory.get, spec["ids"]) if c], at)
        else:  # when no best match is open, open windows for the same topic come first
            found = directory.match_open_first(answers, at, int(spec.get("fallback", 2)))
        if spec.get("open_only"):
            found = [c for c in found if c.hours.is_open(at)]
        return [card(directory, c, at) for c in found[:int(spec.get("limit", DEFAULT_LIMIT))]]

    return render
