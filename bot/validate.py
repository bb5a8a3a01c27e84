"""`flask --app bot validate`: every problem in the content, one line each."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any, Mapping

from .contacts.model import TOPICS, WANTS, Contact, read_contacts
from .content import check_content
from .yamlsrc import ContentError

STALE_AFTER = timedelta(days=365)


def validate(config: Mapping[str, Any], today: date) -> list[ContentError]:
    """Errors (content that must not go live), then warnings (worth an editor's look)."""
    content, errors = check_content(config)
    warnings = content.warnings if content else []
    contacts, _ = read_contacts(Path(config["CONTACTS_FILE"]))
    return errors + warnings + stale(contacts, today) + future(contacts, today) + \
        overnight(contacts) + uncovered(contacts)


def stale(contacts: list[Contact], today: date) -> list[ContentError]:
    """Windows whose check is more than a year old."""
    return [ContentError("contacts.yaml", c.line, f"contact {c.id!r} was verified on "
                         f"{c.verified_on}, over 12 months ago: check its number and hours again",
                         warning=True)
            for c in contacts if c.enabled and c.verified_on and today - c.verified_on > STALE_AFTER]


def future(contacts: list[Contact], today: date) -> list[ContentError]:
    """Windows whose check is dated on a day still to come: it would never grow stale."""
    return [ContentError("contacts.yaml", c.line, f"contact {c.id!r} was verified on "
                         f"{c.verified_on}, a day still to come: write the day it was checked",
                         warning=True)
            for c in contacts if c.enabled and c.verified_on and c.verified_on > today]


def overnight(contacts: list[Contact]) -> list[ContentError]:
    """Hours that run past midnight: meant for a night line, or a day range written backwards
    (17:00-09:00 for 09:00-17:00), which would call a closed office open all night."""
    out = []
    for c in contacts:
        if not c.enabled or c.hours.overnight:
            continue
        ranges = {r for rs in c.hours.weekly.values() for r in rs} | \
            {r for rs in c.hours.dates.values() for r in rs}
        for start, end in sorted(r for r in ranges if r[1] > 24 * 60):
            shown = f"{_hhmm(start)}-{_hhmm(end - 24 * 60)}"
            out.append(ContentError("contacts.yaml", c.line, f"contact {c.id!r}: hours {shown} run "
                                    f"past midnight, to {_hhmm(end - 24 * 60)} the next day; if "
                                    f"it is a day service, write {_hhmm(end - 24 * 60)}-"
                                    f"{_hhmm(start)}; if it is a night line, add overnight: "
                                    "true to its hours", warning=True))
    return out


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def uncovered(contacts: list[Contact]) -> list[ContentError]:
    """Topics and wants with no window that is open around the clock or on the web."""
    always = [c for c in contacts if c.enabled and (c.hours.always or "web_form" in c.channels)]
    out = []
    for kind, values, field in (("topic", TOPICS, "topics"), ("want", WANTS, "wants")):
        for value in values:
            if not any("any" in getattr(c, field) or value in getattr(c, field) for c in always):
                out.append(ContentError("contacts.yaml", 1, f"no window open 24 hours or on the "
                                        f"web matches {kind} {value!r}: at night such a person "
                                        "is shown only closed windows", warning=True))
    return out
