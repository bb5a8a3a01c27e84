"""Which windows a case gets, and in what order: the shipped contacts.yaml, at real moments."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.contacts import load_directory
from bot.contacts.cards import card, renderer
from bot.contacts.hours import JST
from bot.engine import ContactCard, Inbound

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2026, 11, 24, 10, 0, tzinfo=JST)     # a Tuesday morning: offices open
NIGHT = datetime(2026, 11, 24, 23, 0, tzinfo=JST)   # the same day at 23:00: offices closed


@pytest.fixture(scope="module")
def directory():
    d, errors = load_directory(ROOT / "contacts.yaml")
    assert errors == []
    return d


def ids(contacts) -> list[str]:
    return [c.id for c in contacts]


def alert(directory, kind: str, when: datetime, **answers) -> list[str]:
    return ids(directory.alerts(kind, answers, when))


def matched(directory, when: datetime = DAY, **answers) -> list[str]:
    return ids(directory.match(answers, when))


# -- danger, crisis and medical alerts ---------------------------------------------

def test_danger_puts_110_first_then_what_is_open_now(directory):
    assert alert(directory, "danger", DAY, topic="stalking") == ["police_110", "police_9110"]
    assert alert(directory, "danger", NIGHT, topic="stalking") == ["police_110"]


def test_danger_with_a_partner_gives_dv_plus_right_after_110_day_and_night(directory):
    assert alert(directory, "danger", NIGHT, topic="stalking", partner=True) == ["police_110", "dv_plus"]
    # The 24-hour line comes before the office line that is also open.
    assert alert(directory, "danger", DAY, topic="threat", partner=True) == \
        ["police_110", "dv_plus", "police_9110"]
    assert "dv_plus" not in alert(directory, "danger", DAY, topic="threat", partner=False)


def test_danger_about_sexual_images_gives_the_24_hour_police_line_for_sexual_crimes(directory):
    assert alert(directory, "danger", NIGHT, topic="sexual_image") == ["police_110", "police_8103"]


@pytest.mark.parametrize("answers", [{}, {"partner": True}, {"topic": "sexual_image"},
                                     {"topic": "threat", "partner": True, "child": True}])
def test_a_danger_alert_never_lists_a_closed_window_at_any_hour_of_a_week(directory, answers):
    for hour in range(7 * 24):
        when = DAY + timedelta(hours=hour)
        found = directory.alerts("danger", answers, when)
        assert found[0].id == "police_110", when
        assert all(c.hours.is_open(when) for c in found), (when, ids(found))


def test_medical_emergencies_get_119_first(directory):
    assert alert(directory, "medical", NIGHT)[0] == "emergency_119"
    rendered = renderer(directory)({"alert": "medical"}, {}, Inbound("text", NIGHT))
    assert isinstance(rendered[0], ContactCard) and rendered[0].contact_id == "emergency_119"
    assert "☎ 119（通話無料。緊急通報）" in rendered[0].as_text()
    assert "救急です" in rendered[0].as_text()


def test_crisis_lines_open_now_come_first_and_24_hour_phone_lines_before_web_pages(directory):
    assert alert(directory, "crisis", NIGHT) == ["yorisoi", "mamorouyokokoro", "kokoro_dial"]
    assert alert(directory, "crisis", NIGHT, child=True)[:2] == ["mext_sos", "yorisoi"]


# -- matching for the windows list -------------------------------------------------

def test_119_is_never_matched_by_topic_only_by_its_alert(directory):
    for topic in ("threat", "stalking", "other", None):
        for want in ("police", "talk", "unsure", None):
            assert "emergency_119" not in matched(directory, NIGHT, topic=topic, want=want)


def test_threats_get_the_police_first_whatever_the_person_wants(directory):
    for want in ("delete", "talk", "identify", "unsure"):
        assert matched(directory, topic="threat", want=want)[:2] == ["police_110", "police_9110"], want
    deletion = matched(directory, topic="threat", want="delete")
    assert {"moj_jinken110", "moj_internet", "ihaho", "sia_hotline"} <= set(deletion)


def test_identification_goes_to_a_lawyer_first_not_to_the_cyber_crime_desk(directory):
    for topic in ("defamation", "privacy", "impersonation", "stalking"):
        for want in ("identify", "damages", "unsure"):
            found = matched(directory, topic=topic, want=want)
            assert found[0] == "houterasu_support", (topic, want, found)
            assert "npa_cyber" not in found


def test_dv_plus_leads_only_when_a_partner_is_involved(directory):
    assert matched(directory, topic="stalking", want="talk", partner=True)[0] == "dv_plus"
    for partner in (False, "unknown", None):
        found = matched(directory, topic="stalking", want="talk", partner=partner)
        assert found[0] != "dv_plus"
        assert found.index("dv_plus") > found.index("yorisoi")


def test_the_human_rights_line_takes_stalking(directory):
    assert "moj_jinken110" in matched(directory, topic="stalking", want="delete")


def test_the_womens_line_is_offered_for_stalking_and_says_whom_it_is_for(directory):
    answers = {"topic": "stalking", "want": "talk"}
    assert "moj_women" in matched(directory, **answers)
    text = card(directory, directory.get("moj_women"), DAY, answers).as_text()
    assert "女性のための窓口です。" in text
    # A woman who said so is not told whom it is for; for defamation it needs her to say so.
    assert "女性のための窓口です。" not in card(directory, directory.get("moj_women"), DAY,
                                              {**answers, "woman": True}).as_text()
    assert "moj_women" not in matched(directory, topic="defamation", want="delete")
    assert "moj_women" in matched(directory, topic="defamation", want="delete", woman=True)


def test_childrens_lines_need_a_child(directory):
    adult = matched(directory, topic="bullying", want="talk", audience="guardian", child=False)
    assert not {"mext_sos", "moj_children"} & set(adult)
    child = matched(directory, topic="bullying", want="talk", audience="guardian", child=True)
    assert {"mext_sos", "moj_children"} <= set(child)


# -- what a card says ----------------------------------------------------------------

def test_every_0570_number_warns_about_ip_phones_and_prepaid_mobiles(directory):
    phones = [p for c in directory.all for p in c.phones if p.number.startswith("0570")]
    assert len(phones) >= 8
    for p in phones:
        assert "IP電話やプリペイド式の携帯電話からはつながらないことがあります" in p.describe(), p.number


def test_toll_notes_never_contradict_themselves(directory):
    for c in directory.all:
        for p in c.phones:
            text = p.describe()
            assert not ("通話無料" in text and "通話料がかかります" in text), text
    assert directory.get("onestop_8891").phones[0].describe() == "#8891（多くの回線から通話無料）"


def test_sources_point_at_the_page_that_says_so(directory):
    assert directory.get("moj_children").source.startswith("https://www.moj.go.jp/JINKEN/")
    assert directory.get("police_110").source != directory.get("police_9110").source
    assert directory.get("emergency_119").source and directory.get("emergency_119").verified_on


# -- the list of every window ----------------------------------------------------

def test_the_full_list_has_every_window_once_under_whom_it_is_for(directory):
    from bot.contacts.cards import listing

    groups = [t.text for t in listing(directory, NIGHT)]
    assert [g.splitlines()[0] for g in groups] == [
        "【どなたでも】", "【子どもと保護者の方】", "【女性の方】", "【外国語で相談したい方】", "【東京都にお住まいの方】"]
    names = [line[1:line.rindex("（")] for g in groups for line in g.splitlines() if line.startswith("・")]
    assert sorted(names) == sorted(c.name for c in directory.enabled)
    tokyo = groups[-1]
    assert "犯罪被害者ホットライン" in tokyo and "犯罪被害者ホットライン" not in groups[0]
    for c in directory.enabled:  # every number keeps what the call costs
        for p in c.phones:
            assert p.describe() in "\n".join(groups), p.number
