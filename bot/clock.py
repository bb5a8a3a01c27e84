"""Japan time, and reading the times editors and staff type."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")


def read_time(value: str | datetime | None) -> datetime | None:
    """An ISO-8601 time (or a YAML datetime); without a zone it is Japan time.

    Raises ValueError, naming the expected form, for anything else.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        at = value
    else:
        try:
            at = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an ISO-8601 time such as "
                             "2026-11-23T10:00+09:00") from exc
    return at if at.tzinfo else at.replace(tzinfo=JST)
