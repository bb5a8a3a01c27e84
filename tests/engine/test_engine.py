"""The engine on plain values: taps, typed words, branches, commands, idle restarts."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.engine import Engine, Inbound, load_flows

JST = timezone(timedelta(hours=9))
ROOT_KEYWORDS = Path(__file__).resolve().parents[2] / "keywords.yaml"
ROOT_STAFF = Path(__file__).resolve().parents[2] / "staff.yaml"
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=JST)


@pytest.fixture
def engine(test_flows):
    return Engine(load_flows(test_flows, "main"), "main")


def run(engine, conv, *steps, at=T0):
    """Feed texts (str) or taps (('tap', label)) and return the last outcome."""
    out = None
    for step in steps:
        if isinstance(step, tuple):
            button = next(b for b in out.reply.buttons if b.label == step[1])
            inbound = Inbound("button", at, data=button.data)
        else:
            inbound = Inbound("text", at, text=step)
        out = engine.handle(conv, inbound)
        conv = out.conv
    return out


def test_follow_greets_and_asks_first_question(engine):
    out = engine.handle(None, Inbound("follow", T0))
    assert out.reply.texts() == ["テスト用のあいさつです。", "どなたのことですか？"]
    assert [b.label for b in out.reply.buttons] == ["自分", "友人・家族"]
    assert out.conv.state == "who"


def test_tap_and_typed_words_both_advance(engine):
    start = engine.handle(None, Inbound("follow", T0))
    tapped = engine.handle(start.conv, Inbound("button", T0, data=start.reply.buttons[0].data))
    typed = engine.handle(start.conv, Inbound("text", T0, text="ワタシ"))
    assert tapped.conv.state == typed.conv.state == "what"
    assert tapped.conv.answers == typed.conv.answers == {"audience": "self"}


def test_handling_leaves_the_state_it_was_given_as_it_was(engine):
    """The simulator and the tests branch one stored state several ways."""
    start = run(engine, engine.handle(None, Inbound("follow", T0)).conv, "自分").conv
    start.flags["detections"] = [{"kind": "crisis", "level": "possible"}]
    start.flags["seen"] = {"a"}  # not JSON: copied all the same
    before = copy.deepcopy(start)
    out = run(engine, start, "悪口", "最初から")
    assert start == before
    mine = start.copy()
    assert mine == start
    assert mine.flags["detections"][0] is not start.flags["detections"][0]
    assert mine.flags["seen"] is not start.flags["seen"]
    assert mine.history is not start.history and mine.answers is not start.answers
    assert out.conv.history is not start.history


def test_branch_depends_on_earlier_answer(engine):
    start = engine.handle(None, Inbound("follow", T0)).conv
    friend = run(engine, start, "友達", "ネットで悪口を書かれています")
    me = run(engine, start, "自分", "悪口")
    assert friend.reply.texts() == ["ご本人からの相談が必要な窓口もあります。",
                                    "ありがとうございました。", "悪口の件ですね。"]
    assert me.reply.texts() == ["ありがとうございました。", "悪口の件ですね。"]
    assert friend.conv.state == me.conv.state == "done"


def test_conditional_text_is_left_out_when_condition_fails(engine):
    start = engine.handle(None, Inbound("follow", T0)).conv
    out = run(engine, start, "自分", "つきまとい")
    assert out.reply.texts() == ["ありがとうございました。"]


def test_not_understood_keeps_state_and_buttons(engine):
    start = engine.handle(None, Inbound("follow", T0)).conv
    out = run(engine, start, "よくわからない")
    assert out.conv.state == "who"
    assert out.reply.texts() == ["すみません、うまく読み取れませんでした。"]
    assert [b.label for b in out.reply.buttons] == ["自分", "友人・家族"]


def test_stale_button_from_an_earlier_question_is_not_taken_blindly(engine):
    start = engine.handle(None, Inbound("follow", T0))
    later = run(engine, start.conv, "自分").conv
    old_tap = Inbound("button", T0, data=start.reply.buttons[1].data, text="友人・家族")
    out = engine.handle(later, old_tap)
    assert out.conv.state == "what" and out.conv.answers == {"audience": "self"}


def test_back_restores_state_and_answers(engine):
    start = engine.handle(None, Inbound("follow", T0)).conv
    out = run(engine, start, "自分", "戻る")
    assert out.conv.state == "who" and out.conv.answers == {}
    assert out.reply.texts() == ["どなたのことですか？"]
    again = run(engine, out.conv, "もどる")
    assert again.reply.texts() == ["これより前には戻れません。"]


def test_restart_contacts_and_help_work_in_any_state(engine):
    start = engine.handle(None, Inbound("follow", T0)).conv
    mid = run(engine, start, "自分").conv
    assert run(engine, mid, "最初から").conv.state == "who"
    assert run(engine, mid, "最初から").conv.answers == {}
    windows = run(engine, mid, "相談窓口")
    assert windows.reply.texts() == ["窓口の一覧です。"]
    assert run(engine, windows.conv, "戻る").conv.state == "what"
    helped = run(engine, mid, "ヘルプ")
    assert helped.reply.texts() == ["「最初から」「戻る」「相談窓口」が使えます。"]
    assert helped.conv.state == "what"


def test_end_state_offers_commands_as_buttons(engine):
    start = engine.handle(None, Inbound("follow", T0)).conv
    out = run(engine, start, "自分", "つきまとい")
    assert [b.label for b in out.reply.buttons] == ["最初から", "戻る", "相談窓口", "ヘルプ"]


def test_non_text_message_keeps_state(engine):
    mid = run(engine, engine.handle(None, Inbound("follow", T0)).conv, "自分").conv
    out = engine.handle(mid, Inbound("other", T0))
    assert out.conv.state == "what"
    assert out.reply.texts() == ["画像やスタンプは読み取れません。"]
    assert [b.label for b in out.reply.buttons] == ["悪口を書かれた", "つきまとい"]


def test_idle_conversation_starts_afresh_with_welcome_back(engine):
    mid = run(engine, engine.handle(None, Inbound("follow", T0)).conv, "自分").conv
    later = T0 + timedelta(hours=25)
    out = engine.handle(mid, Inbound("text", later, text="こんにちは"))
    assert out.conv.state == "who" and out.conv.answers == {}
    assert out.reply.texts() == ["おかえりなさい。", "どなたのことですか？"]
    soon = engine.handle(mid, Inbound("text", T0 + timedelta(hours=23), text="こんにちは"))
    assert soon.conv.state == "what"


def test_idle_restart_still_takes_a_matching_answer(engine):
    mid = run(engine, engine.handle(None, Inbound("follow", T0)).conv, "自分").conv
    out = engine.handle(mid, Inbound("text", T0 + timedelta(days=3), text="友達のことです"))
    assert out.conv.state == "what" and out.conv.answers == {"audience": "friend"}
    assert out.reply.texts()[0] == "おかえりなさい。"


def test_engine_does_not_change_the_state_it_was_given(engine):
    start = engine.handle(None, Inbound("follow", T0)).conv
    run(engine, start, "自分")
    assert start.state == "who" and start.answers == {}


def test_group_chat_gets_one_notice_and_no_interview(engine):
    first = engine.handle(None, Inbound("group", T0))
    assert first.reply.texts() == ["グループでは相談をお受けしていません。1対1でどうぞ。"]
    second = engine.handle(first.conv, Inbound("group", T0))
    assert second.reply.messages == [] and second.conv.state is None
