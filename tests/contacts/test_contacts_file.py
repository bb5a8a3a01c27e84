"""contacts.yaml: only checked numbers reach people, and editors are told what they broke."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.contacts import load_directory
from bot.contacts.model import read_contacts

ROOT = Path(__file__).resolve().parents[2]
NEVER = ["0570-024-110", "0120-079714", "0570-046-556", "0570-0-78310"]  # hotlines.md


@pytest.fixture(scope="module")
def contacts():
    found, errors = read_contacts(ROOT / "contacts.yaml")
    assert errors == []
    return found


def test_every_enabled_contact_has_a_source_and_verified_date(contacts):
    enabled = [c for c in contacts if c.enabled]
    assert len(enabled) >= 20
    for c in enabled:
        assert c.source and c.source.startswith("https://"), c.id
        assert isinstance(c.verified_on, date) and c.verified_on <= date(2026, 11, 23), c.id


def test_unverified_windows_are_kept_disabled_with_a_reason_and_never_offered(contacts):
    disabled = [c for c in contacts if not c.enabled]
    assert {c.id for c in disabled} >= {"inochi_denwa", "inochi_sos"}
    assert all(c.disabled_reason for c in disabled)
    directory, _ = load_directory(ROOT / "contacts.yaml")
    assert not {c.id for c in disabled} & {c.id for c in directory.enabled}


def test_numbers_that_must_not_be_given_out_are_nowhere():
    text = "\n".join(p.read_text(encoding="utf-8") for p in
                     [ROOT / "contacts.yaml", *sorted((ROOT / "flows").glob("*.yaml"))])
    for number in NEVER:
        assert number not in text


def test_phone_notes_say_what_a_call_costs(contacts):
    for c in contacts:
        for p in c.phones:
            if p.number.startswith("0570"):
                assert "ナビダイヤル" in p.describe()
            if p.number.startswith("0120"):
                assert "通話無料" in p.describe()


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "contacts.yaml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """contacts:
  - id: sample
    name: 見本の窓口
    operator: 見本
    summary: 見本です。
    phones:
      - {number: 0570-003-110, toll: navi}
    topics: [any]
    wants: [any]
    hours: {mon-fri: 08:30-17:15, closed: [holidays, year_end]}
    source: https://example.org/
    verified_on: 2026-11-01
"""


def test_a_good_file_has_no_errors(tmp_path):
    assert read_contacts(write(tmp_path, GOOD))[1] == []


@pytest.mark.parametrize("old,new,message", [
    ("    source: https://example.org/\n", "",
     "contacts.yaml:2: contact 'sample' is enabled but has no 'source':"),
    ("0570-003-110", "0570-00-3110-1", "contacts.yaml:7: phone number '0570-00-3110-1' is in an unknown format"),
    ("08:30-17:15", "8時半から", "contacts.yaml:10: hours: '8時半から' is not a time range"),
    ("topics:", "topcs:", "contacts.yaml:8: unknown key 'topcs' in a contact"),
    ("toll: navi", "toll: free", "contacts.yaml:7: 0570-003-110 is a 0570 ナビダイヤル number: its toll is 'navi'"),
])
def test_mistakes_are_reported_at_their_line(tmp_path, old, new, message):
    errors = [str(e) for e in read_contacts(write(tmp_path, GOOD.replace(old, new)))[1]]
    assert any(e.startswith(message) for e in errors), errors


def test_contacts_command_lists_matches_as_json(app):
    result = app.test_cli_runner().invoke(args=[
        "contacts", "--topic", "defamation", "--want", "delete", "--audience", "self",
        "--at", "2026-11-23T10:00+09:00", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    by_id = {r["id"]: r for r in rows}
    assert by_id["moj_jinken110"]["phones"] == ["0570-003-110"]
    assert by_id["moj_jinken110"]["open_now"] is False
    assert by_id["moj_jinken110"]["next_open"] == "2026-11-24T08:30:00+09:00"
    assert by_id["sia_hotline"]["open_now"] is True and by_id["sia_hotline"]["phones"] == []
    assert [r["open_now"] for r in rows] == sorted((r["open_now"] for r in rows),
                                                   key=lambda s: {True: 0, None: 1, False: 2}[s])


def test_contacts_command_refuses_an_unknown_audience(app):
    result = app.test_cli_runner().invoke(args=["contacts", "--audience", "martian"])
    assert result.exit_code != 0 and "martian" in result.output
