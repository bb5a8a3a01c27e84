"""Open or closed, and when next open, at the moments people actually write."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot.contacts import load_directory
from bot.contacts.hours import JST, Hours, HoursError, parse_range

ROOT = Path(__file__).resolve().parents[2]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JST)


@pytest.fixture(scope="module")
def directory():
    d, errors = load_directory(ROOT / "contacts.yaml")
    assert errors == []
    return d


def status(directory, cid, when):
    s = directory.status(directory.get(cid), at(when))
    return s.open_now, s.describe(at(when))


# (moment, government office 平日 8:30-17:15, 法テラス 平日 9-21 土 9-17)
CASES = [
    ("2026-11-24T10:00", (True, "いま受付中です（今日 8:30〜17:15）"),
                         (True, "いま受付中です（今日 9:00〜21:00）")),
    ("2026-11-24T18:00", (False, "いまは受付時間外です。次は明日 8:30からです"),
                         (True, "いま受付中です（今日 9:00〜21:00）")),
    ("2026-11-28T10:00", (False, "いまは受付時間外です。次は11月30日(月) 8:30からです"),
                         (True, "いま受付中です（今日 9:00〜17:00）")),
    ("2026-11-29T10:00", (False, "いまは受付時間外です。次は明日 8:30からです"),
                         (False, "いまは受付時間外です。次は明日 9:00からです")),
    ("2026-11-23T10:00", (False, "いまは受付時間外です。次は明日 8:30からです"),
                         (False, "いまは受付時間外です。次は明日 9:00からです")),
    ("2026-12-30T10:00", (False, "いまは受付時間外です。次は1月4日(月) 8:30からです"),
                         (False, "いまは受付時間外です。次は1月4日(月) 9:00からです")),
]


@pytest.mark.parametrize("when,government,houterasu", CASES)
def test_government_and_houterasu_hours(directory, when, government, houterasu):
    assert status(directory, "moj_jinken110", when) == government
    assert status(directory, "houterasu_support", when) == houterasu


@pytest.mark.parametrize("when", [c[0] for c in CASES])
def test_24h_lines_and_web_forms_are_always_open(directory, when):
    assert status(directory, "yorisoi", when) == (True, "いま受付中です（24時間）")
    assert status(directory, "police_110", when)[0] is True
    assert status(directory, "ihaho", when)[0] is True


def test_hours_that_vary_by_region_are_not_claimed_open(directory):
    assert status(directory, "kokoro_dial", "2026-11-24T10:00") == (
        None, "受付時間: 受付時間は地域によって異なります")


def test_closing_minute_is_closed_and_opening_minute_is_open(directory):
    assert status(directory, "moj_jinken110", "2026-11-24T17:15")[0] is False
    assert status(directory, "moj_jinken110", "2026-11-24T08:30")[0] is True
    assert status(directory, "moj_jinken110", "2026-11-24T08:29")[1].endswith("今日 8:30からです")


def test_time_in_another_zone_is_read_in_japan_time(directory):
    utc = datetime.fromisoformat("2026-11-24T01:00+00:00")  # 10:00 in Japan
    assert directory.status(directory.get("moj_jinken110"), utc).open_now is True


def test_range_past_midnight_and_date_exceptions():
    night = Hours(weekly={4: (parse_range("22:00-06:00"),)})  # Friday night
    assert night.is_open(at("2026-11-27T23:00")) and night.is_open(at("2026-11-28T05:59"))
    assert not night.is_open(at("2026-11-28T06:00"))
    special = Hours(weekly={0: (parse_range("08:30-17:15"),)},
                    dates={datetime(2026, 11, 30).date(): (parse_range("08:30-19:00"),)})
    assert special.is_open(at("2026-11-30T18:30")) and not special.is_open(at("2026-12-07T18:30"))


@pytest.mark.parametrize("bad", ["8:30", "25:00-26:00", "09:00-17:60", "朝から晩まで"])
def test_unreadable_ranges_are_refused(bad):
    with pytest.raises(HoursError):
        parse_range(bad)
