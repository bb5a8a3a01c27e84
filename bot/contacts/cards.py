"""Windows as the person reads them: what it does, the number and its cost, open or not."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from ..clock import JST, fmt_minute
from ..engine.types import ContactCard, Inbound, Message, Text
from . import Contact, Directory

SPEC_KEYS = {"match", "alert", "all", "ids", "limit", "fallback", "open_only", "english", "audience"}
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


TOLLS_EN = {"free": "free call", "navi": "Navi Dial: call charges apply",
            "charged": "call charges apply"}
DAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def english_card(directory: Directory, contact: Contact, at: datetime) -> ContactCard:
    """One window for someone who reads English: its number, cost and whether it is open now."""
    status = directory.status(contact, at)
    name = f"{contact.name_en} ({contact.name})" if contact.name_en else contact.name
    lines = [contact.summary_en] if contact.summary_en else []
    for p in contact.phones:
        notes = [TOLLS_EN[p.toll]] + ([] if p.ip_phone else ["may not connect from IP phones"])
        lines.append(f"☎ {p.number} ({'; '.join(notes)})")
    lines.append(english_status(contact, status, at))
    return ContactCard(contact.id, f"■ {name}", tuple(lines), contact.url, status.open_now)


def english_status(contact: Contact, status, at: datetime) -> str:
    """'Open now (24 hours)', 'Open now (today 9:00-17:00)' or 'Closed now; opens Tue 9:00'."""
    if status.open_now is None:
        return "Hours vary: please check the website."
    if status.open_now:
        if contact.hours.always:
            return "Open now (24 hours)"
        ranges = contact.hours.ranges_on(at.astimezone(JST).date())
        return "Open now (today " + ", ".join(f"{fmt_minute(a)}-{fmt_minute(b)}"
                                              for a, b in ranges) + ")"
    if status.next_open is None:
        return "Closed now."
    nxt = status.next_open.astimezone(JST)
    return f"Closed now; opens {DAYS_EN[nxt.weekday()]} {nxt.day} {nxt:%b} " \
           f"{fmt_minute(nxt.hour * 60 + nxt.minute)}"


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
        elif spec.get("audience"):  # the windows made for one audience, such as foreigner
            found = directory.ordered([c for c in directory.enabled
                                       if spec["audience"] in c.audience], at)
        elif spec.get("ids"):
            found = directory.ordered([c for c in map(directory.get, spec["ids"]) if c], at)
        else:  # when no best match is open, open windows for the same topic come first
            found = directory.match_open_first(answers, at, int(spec.get("fallback", 2)))
        if spec.get("open_only"):
            found = [c for c in found if c.hours.is_open(at)]
        draw = english_card if spec.get("english") else card
        return [draw(directory, c, at) for c in found[:int(spec.get("limit", DEFAULT_LIMIT))]]

    return render
