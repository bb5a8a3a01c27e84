"""`staff.yaml`: when staff answer, and how long a person may wait."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import yamlsrc
from .contacts.hours import Hours
from .contacts.model import ContactsReader
from .yamlsrc import ContentError


@dataclass(frozen=True)
class StaffDesk:
    """Staff hours and the per-person estimate."""

    hours: Hours
    minutes_per_person: int = 10

    def open_at(self, at: datetime) -> bool:
        return bool(self.hours.is_open(at))

    def next_open(self, at: datetime) -> datetime | None:
        return self.hours.next_open(at)


def read_staff(path: Path, name: str = "staff.yaml") -> tuple[StaffDesk | None, list[ContentError]]:
    """Read staff.yaml; return it and every problem found."""
    try:
        doc = yamlsrc.load(path, name)
    except ContentError as exc:
        return None, [exc]
    reader = ContactsReader(name)
    if not reader.keys(doc, {"hours", "minutes_per_person"}, "staff.yaml"):
        return None, reader.errors
    hours = reader.hours(doc.get("hours"), doc.line_of("hours"))
    minutes = doc.get("minutes_per_person", 10)
    if not isinstance(minutes, int) or minutes <= 0:
        reader.error(doc.line_of("minutes_per_person"), "minutes_per_person must be a whole "
                     "number of minutes above 0")
        minutes = 10
    return (StaffDesk(hours, minutes) if not reader.errors else None), reader.errors
