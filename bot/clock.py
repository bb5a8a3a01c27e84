"""Japan time, and reading the times editors and staff type."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")
WEEKDAY_JA = "月火水木金土日"


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


def fmt_minute(minute: int) -> str:
    """'8:30', or '翌2:00' past midnight."""
    prefix = "翌" if minute >= 24 * 60 else ""
    minute %= 24 * 60
    return f"{prefix}{minute // 60}:{minute % 60:02d}"


def describe_when(opening: datetime, now: datetime) -> str:
    """'今日 13:00から', '明日 8:30から' or '11月24日(火) 8:30から'."""
    local, today = opening.astimezone(JST), now.astimezone(JST).date()
    clock = fmt_minute(local.hour * 60 + local.minute)
    if local.date() == today:
        return f"今日 {clock}から"
    if local.date() == today + timedelta(days=1):
        return f"明日 {clock}から"
    return f"{local.month}月{local.day}日({WEEKDAY_JA[local.weekday()]}) {clock}から"
