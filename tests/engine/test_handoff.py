"""The person's side of a handoff: asking, confirming, waiting, cancelling, silence, deletion."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.engine import Engine, Inbound, load_flows
from bot.engine.handoff import CANCEL, DELETE, REQUEST, DeskView
from bot.staff import read_staff

from .test_engine import ROOT_STAFF

JST = timezone(timedelta(hours=9))
OPEN = datetime(2026, 11, 24, 11, 0, tzinfo=JST)     # Tuesday, staff hours
CLOSED = datetime(2026, 11, 23, 11, 0, tzinfo=JST)   # a national holiday


@pytest.fixture
def engine(test_flows, understanding):
    staff, _ = read_staff(ROOT_STAFF)
    return Engine(load_flows(test_flows, "main"), "main", classifier=understanding, staff=staff)


def say(engine, conv, text, at=OPEN, desk=None):
    return engine.handle(conv, Inbound("text", at, text=text), desk)


def tap(engine, out, label, at=OPEN, desk=None):
    button = next(b for b in out.reply.buttons if b.label == label)
    return engine.handle(out.conv, Inbound("button", at, data=button.data, text=button.text), desk)


def started(engine):
    return say(engine, engine.handle(None, Inbound("follow", OPEN)).conv, "自分")


def test_asking_for_a_human_asks_first_and_says_what_happens(engine):
    out = say(engine, started(engine).conv, "人と話したい")
    assert out.reply.texts() == ["スタッフにつなぎますか？"]
    assert [b.label for b in out.reply.buttons] == ["つなぐ", "やめる"]
    assert out.actions == []


def test_yes_queues_the_request_and_tells_the_wait(engine):
    asked = say(engine, started(engine).conv, "スタッフと話したい")
    out = tap(engine, asked, "つなぐ", desk=DeskView(None, ahead=2))
    assert out.actions == [REQUEST]
    assert out.reply.texts() == ["前に2人、約30分です。"]
    assert [b.label for b in out.reply.buttons] == ["ボットに戻る"]
    assert out.conv.state == "what"  # where the interview will resume


def test_outside_staff_hours_it_says_when_staff_are_back(engine):
    asked = say(engine, started(engine).conv, "人と話したい", at=CLOSED)
    out = tap(engine, asked, "つなぐ", at=CLOSED)
    assert out.actions == [REQUEST]
    assert out.reply.texts()[0] == "受付時間外です。次は明日 10:00です。"


def test_asking_in_everyday_polite_words_asks_too(engine):
    """人と話したいです was not a request for staff: the interview read it as "wants to talk"."""
    for text in ("人と話したいです", "スタッフと話したいんですけど", "人と話したいお願いします",
                 "夜中にすみません。人間と話したい"):
        assert say(engine, started(engine).conv, text).reply.texts() == ["スタッフにつなぎますか？"]


def test_outside_staff_hours_the_question_says_so_before_the_person_chooses(engine):
    asked = say(engine, started(engine).conv, "人と話したい", at=CLOSED)
    assert asked.reply.texts() == ["スタッフにつなぎますか？\n時間外です。明日 10:00から。"]


def test_waiting_after_hours_later_messages_are_told_they_reached_staff(engine):
    """Each message while waiting after hours repeated the whole after-hours text and windows."""
    waiting = DeskView("waiting", ahead=0)
    conv = say(engine, started(engine).conv, "悪口を書かれた", at=CLOSED).conv
    again = say(engine, conv, "まだですか", at=CLOSED, desk=waiting)
    assert again.reply.texts() == ["届いています。明日 10:00に読みます。"]
    assert [b.label for b in again.reply.buttons] == ["ボットに戻る"]


def test_waiting_after_hours_words_that_may_show_a_crisis_get_the_lines_again(engine):
    waiting = DeskView("waiting", ahead=0)
    conv = say(engine, started(engine).conv, "悪口を書かれた", at=CLOSED).conv
    out = say(engine, conv, "つらい", at=CLOSED, desk=waiting)  # possible: asked about elsewhere
    assert out.reply.texts()[0] == "時間外です。明日 10:00に読みます。いまつながる窓口へどうぞ。"


def test_no_goes_back_to_the_question(engine):
    asked = say(engine, started(engine).conv, "人と話したい")
    out = tap(engine, asked, "やめる")
    assert out.actions == [] and out.conv.state == "what"
    assert out.reply.texts() == ["続けます。"] and out.reply.buttons[0].label == "悪口を書かれた"


def test_while_waiting_the_person_is_reminded_and_can_cancel(engine):
    waiting = DeskView("waiting", ahead=1)
    conv = started(engine).conv
    again = say(engine, conv, "まだですか", desk=waiting)
    assert again.reply.texts() == ["まだお待ちください（前に1人）。"] and again.actions == []
    cancelled = say(engine, conv, "ボットに戻る", desk=waiting)
    assert cancelled.actions == [CANCEL]
    assert cancelled.reply.texts() == ["取り消しました。"]
    assert cancelled.reply.buttons[0].label == "悪口を書かれた"


def test_once_claimed_the_bot_says_nothing_but_reports_a_crisis(engine):
    claimed = DeskView("claimed")
    conv = started(engine).conv
    quiet = say(engine, conv, "つきまとい", desk=claimed)
    assert quiet.reply.messages == [] and quiet.reply.buttons == [] and quiet.actions == []
    assert quiet.conv.state == conv.state
    crisis = say(engine, conv, "もう死にたい", desk=claimed)
    assert crisis.reply.messages == [] and crisis.actions == ["alert:crisis"]
    assert crisis.conv.flags["crisis"] is True


def test_a_crisis_while_waiting_still_gets_the_lines_and_alerts_staff(engine):
    out = say(engine, started(engine).conv, "死にたい", desk=DeskView("waiting", 0))
    assert out.reply.texts()[0] == "つらい気持ちを教えてくれてありがとう。"
    assert out.actions == ["alert:crisis"]
    assert [b.label for b in out.reply.buttons] == ["ボットに戻る"]


def test_after_an_alert_and_after_two_misses_a_human_is_offered(engine):
    alarmed = say(engine, started(engine).conv, "殺すと言われた")
    assert "スタッフと話したい" in [b.label for b in alarmed.reply.buttons]
    once = say(engine, started(engine).conv, "うーん")
    assert "スタッフと話したい" not in [b.label for b in once.reply.buttons]
    twice = say(engine, once.conv, "えーと")
    assert twice.reply.texts()[-1] == "スタッフとも話せます。"
    assert twice.reply.buttons[-1].label == "スタッフと話したい"


def test_deletion_asks_then_returns_the_delete_action(engine):
    asked = say(engine, started(engine).conv, "データを削除")
    assert asked.reply.texts() == ["削除しますか？"]
    kept = tap(engine, asked, "削除しない")
    assert kept.actions == [] and kept.conv.answers == {"audience": "self"}
    gone = tap(engine, asked, "削除する")
    assert gone.actions == [DELETE]
    assert gone.reply.texts() == ["削除しました。"]
    assert gone.conv.answers == {} and gone.conv.state is None


def test_commands_still_work_at_a_confirmation(engine):
    asked = say(engine, started(engine).conv, "人と話したい")
    out = say(engine, asked.conv, "最初から")
    assert out.conv.state == "who" and out.actions == []
