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
    return errors + warnings + stale(contacts, today) + uncovered(contacts)


def stale(contacts: list[Contact], today: date) -> list[ContentError]:
    """Windows whose check is more than a year old."""
    return [ContentError("contacts.yaml", c.line, f"contact {c.id!r} was verified on "
                         f"{c.verified_on}, over 12 months ago: check its number and hours again",
                         warning=True)
            for c in contacts if c.enabled and c.verified_on and today - c.verified_on > STALE_AFTER]


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
