"""Opening hours: weekly schedules, 24 hours, holidays and dates, worked out in Japan time.

National holidays come from `jpholiday`. `closed: [holidays, year_end]` is how a
government office's 平日 is written: Monday to Friday except national holidays
and 29 December to 3 January.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import jpholiday

from ..clock import JST, fmt_minute
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_GROUPS = {"mon-fri": DAYS[:5], "sat-sun": DAYS[5:], "daily": DAYS, **{d: (d,) for d in DAYS}}
CLOSURES = ("holidays", "year_end")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")

Range = tuple[int, int]  # minutes from midnight; an end past 24:00 runs into the next day


class HoursError(ValueError):
    """Hours written in a way we cannot read."""


def parse_range(text: str) -> Range:
    """Read 'HH:MM-HH:MM'; an end at or before the start runs past midnight."""
    m = _RANGE.match(str(text).strip())
    if not m:
        raise HoursError(f"{text!r} is not a time range such as 08:30-17:15")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
        raise HoursError(f"{text!r} has an impossible time")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    return (start, end if end > start else end + 24 * 60)


@dataclass(frozen=True)
class Hours:
    """When a window takes calls; `always` for 24 hours, `unknown` when it varies by place."""

    always: bool = False
    unknown: bool = False
    weekly: dict[int, tuple[Range, ...]] = field(default_factory=dict)
    closed_holidays: bool = False
    closed_year_end: bool = False
    dates: dict[date, tuple[Range, ...]] = field(default_factory=dict)
    note: str | None = None
    overnight: bool = False  # ranges past midnight are meant (a night line): no warning

    def ranges_on(self, day: date) -> tuple[Range, ...]:
        """The opening ranges of one calendar day."""
        if self.always:
            return ((0, 24 * 60),)
        if day in self.dates:
            return self.dates[day]
        if self.closed_year_end and is_year_end(day):
            return ()
        if self.closed_holidays and jpholiday.is_holiday(day):
            return ()
        return self.weekly.get(day.weekday(), ())

    def is_open(self, at: datetime) -> bool | None:
        """Open at this moment? None when the hours are not known."""
        if self.unknown:
            return None
        local = at.astimezone(JST)
        minute = local.hour * 60 + local.minute
        today, yesterday = local.date(), local.date() - timedelta(days=1)
        return (any(s <= minute < e for s, e in self.ranges_on(today))
                or any(minute + 24 * 60 < e for _, e in self.ranges_on(yesterday)))

    def next_open(self, at: datetime, days: int = 14) -> datetime | None:
        """When it next opens after `at` (None if open now, unknown, or not within `days`)."""
        if self.unknown or self.always or self.is_open(at):
            return None
        local = at.astimezone(JST)
        for offset in range(days + 1):
            day = local.date() + timedelta(days=offset)
            for start, _ in sorted(self.ranges_on(day)):
                opening = datetime.combine(day, time(start // 60, start % 60), JST)
                if opening > local:
                    return opening
        return None


def is_year_end(day: date) -> bool:
    """29 December to 3 January, when government offices close."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def describe_day(hours: Hours, day: date) -> str:
    """One day's hours in Japanese: '24時間', '8:30〜17:15', or '休み'."""
    if hours.always:
        return "24時間"
    if hours.unknown:
        return hours.note or "地域によって異なります"
    ranges = hours.ranges_on(day)
    if not ranges:
        return "休み"
    return "、".join(f"{fmt_minute(s)}〜{fmt_minute(e)}" for s, e in sorted(ranges))
