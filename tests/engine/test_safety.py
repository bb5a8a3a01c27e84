"""Alarms in the engine, on plain values: sure interrupts alone, possible asks, staff see both.

The classifier is a table here (the engine takes any callable), so that these
tests pin the engine's decisions, not the wording a model happens to score.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.engine import ConvState, Engine, Inbound, load_flows
from bot.engine.handoff import DeskView
from bot.engine.safety import CHECK, CONTINUE
from bot.nlu import MAYBE, SURE, Signals

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=JST)

READS = {
    "死にたい": Signals(levels={"crisis": SURE}, by={"crisis": "rule:crisis_wish"}),
    "殺すぞと言われた": Signals(values={"topic": "threat"}, levels={"danger": SURE}),
    "薬をたくさん飲んだ": Signals(values={"medical": True}, levels={"crisis": SURE}),
    "もう疲れた": Signals(levels={"crisis": MAYBE}, by={"crisis": "model"}),
    "悪口を書かれてもう疲れた": Signals(values={"topic": "defamation"}, levels={"crisis": MAYBE}),
    "こわい": Signals(levels={"danger": MAYBE}),
    "娘がもう疲れたと言っています": Signals(values={"audience": "guardian"},
                                   levels={"crisis": MAYBE}),
    "娘が死にたいと言っています": Signals(values={"audience": "guardian"}, levels={"crisis": SURE}),
    "I want to die": Signals(levels={"crisis": SURE}, language="en"),
    "i feel like disappearing": Signals(levels={"crisis": MAYBE}, language="en"),
    "リセット": Signals(levels={"crisis": MAYBE}, by={"crisis": "model"}),
    **{latin: Signals(language="en") for latin in ("ok", "www", "SNS", "hello",
                                                   "I was doxxed on a forum")},
}


def classify(text: str) -> Signals:
    return READS.get(text, Signals())


@pytest.fixture
def engine(test_flows):
    return Engine(load_flows(test_flows, "main"), "main", classifier=classify)


def say(engine, conv, text, at=T0):
    return engine.handle(conv, Inbound("text", at, text=text))


def tap(engine, out, label, at=T0):
    button = next(b for b in out.reply.buttons if b.label == label)
    return engine.handle(out.conv, Inbound("button", at, data=button.data, text=button.text))


def labels(out):
    return [b.label for b in out.reply.buttons]


def started(engine):
    return say(engine, engine.handle(None, Inbound("follow", T0)).conv, "自分")  # at "what"


def test_a_sure_crisis_is_the_whole_answer_and_the_interview_waits(engine):
    out = say(engine, started(engine).conv, "死にたい")
    assert out.reply.texts() == ["つらい気持ちを教えてくれてありがとう。", "落ち着いたら続きをどうぞ。"]
    assert labels(out) == ["相談を続ける", "スタッフと話したい"]
    assert out.conv.state == "what" and out.conv.flags["crisis"] is True
    assert "alert:crisis" in out.actions and "interrupt:crisis" in out.fired
    went_on = tap(engine, out, "相談を続ける")
    assert went_on.reply.texts() == ["何がありましたか？"] and went_on.conv.state == "what"


def test_an_alarm_on_a_new_conversation_comes_without_the_greeting(engine):
    out = say(engine, None, "死にたい")
    assert not any("あいさつ" in t for t in out.reply.texts())
    went_on = tap(engine, out, "相談を続ける")
    assert went_on.reply.texts() == ["テスト用のあいさつです。", "どなたのことですか？"]


def test_119_comes_before_everything_else(engine):
    out = say(engine, started(engine).conv, "薬をたくさん飲んだ")
    assert out.reply.texts()[:2] == ["すぐ119番へ。", "つらい気持ちを教えてくれてありがとう。"]


def test_a_possible_crisis_is_asked_once_with_two_buttons(engine):
    out = say(engine, started(engine).conv, "もう疲れた")
    assert out.reply.texts() == ["死にたいほどつらいですか？"]
    assert labels(out) == ["はい", "いいえ"] and out.conv.state == CHECK["crisis"]
    assert "alert:crisis" not in out.actions
    assert out.conv.flags["detections"][-1] == {"kind": "crisis", "level": "possible",
                                                "by": "model", "at": T0.isoformat()}


def test_yes_runs_the_crisis_answer_and_alerts_staff(engine):
    out = tap(engine, say(engine, started(engine).conv, "もう疲れた"), "はい")
    assert out.reply.texts()[0] == "つらい気持ちを教えてくれてありがとう。"
    assert "alert:crisis" in out.actions and out.conv.flags["crisis"] is True
    assert out.conv.state == "what"
    assert out.conv.flags["detections"][-1]["answer"] == "yes"


def test_no_goes_back_to_the_question_with_what_was_understood(engine):
    asked = say(engine, started(engine).conv, "悪口を書かれてもう疲れた")
    out = tap(engine, asked, "いいえ")
    assert out.reply.texts()[:2] == ["ありがとうございます。続けます。", "つらくなったときの電話です。"]
    assert out.conv.state == "done"  # the topic the words gave answers the question
    assert "「悪口を書かれた」として進めます。" in out.reply.texts()
    assert "alert:crisis" not in out.actions


def test_after_a_no_the_question_waits_unless_the_words_answer_nothing_else(engine):
    """After a "no", words that answer the interview go on with it (not asked again for 6
    hours); words that answer nothing but show the alarm again (やっぱりつらい) are asked
    about, each time: the bot promised 「いつでもここに書いてください」."""
    asked = say(engine, started(engine).conv, "もう疲れた")
    out = say(engine, asked.conv, "大丈夫")
    assert out.conv.state == "what"
    answering = say(engine, out.conv, "悪口を書かれてもう疲れた", at=T0 + timedelta(minutes=5))
    assert answering.conv.state != CHECK["crisis"]  # it answers the question: no nagging
    later = say(engine, out.conv, "悪口を書かれてもう疲れた", at=T0 + timedelta(hours=7))
    assert later.conv.state == CHECK["crisis"]
    conv = out.conv
    for minutes in (6, 8):  # words that answer nothing: asked again, after each "no"
        again = say(engine, conv, "もう疲れた", at=T0 + timedelta(minutes=minutes))
        assert again.conv.state == CHECK["crisis"]
        conv = say(engine, again.conv, "大丈夫", at=T0 + timedelta(minutes=minutes + 1)).conv


def test_an_unclear_answer_is_asked_again_then_taken_as_yes(engine):
    asked = say(engine, started(engine).conv, "もう疲れた")
    again = say(engine, asked.conv, "うーん")
    assert again.reply.texts() == ["もう一度うかがいます。", "死にたいほどつらいですか？"]
    out = say(engine, again.conv, "えっと")
    assert out.reply.texts()[0] == "つらい気持ちを教えてくれてありがとう。"


def test_an_unsure_answer_is_taken_as_yes_at_once(engine):
    """ちょっとある, わからない: not sure they are safe. It used to be asked for はい or いいえ."""
    asked = say(engine, started(engine).conv, "もう疲れた")
    out = say(engine, asked.conv, "正直よくわからないです")
    assert out.reply.texts()[0] == "つらい気持ちを教えてくれてありがとう。"
    assert "alert:crisis" in out.actions


@pytest.mark.parametrize("text,yes", [("大丈夫です、少し疲れただけ", False), ("ないけど疲れた", False),
                                      ("大丈夫かどうかわからない", True)])
def test_an_answer_that_begins_with_no_is_a_no_unless_it_is_unsure(engine, text, yes):
    """いいえ、ちょっと疲れてるだけです was taken as unsure, so as yes: the person was not heard."""
    asked = say(engine, started(engine).conv, "もう疲れた")
    out = say(engine, asked.conv, text)
    assert ("alert:crisis" in out.actions) is yes, out.reply.texts()
    assert out.reply.texts()[0] == ("つらい気持ちを教えてくれてありがとう。" if yes
                                    else "ありがとうございます。続けます。")


def test_a_command_is_a_command_even_when_the_model_half_reads_an_alarm(engine):
    """やり直したい, 前に戻りたい got 「死にたいほどつらい気持ちがありますか」 instead of a restart."""
    out = say(engine, started(engine).conv, "リセット")
    assert out.conv.state != CHECK["crisis"] and "command:restart" in out.fired, out.reply.texts()


def test_after_an_alarm_words_that_answer_nothing_get_the_way_on_again(engine):
    """返事ください after the crisis lines got 「うまく読み取れませんでした」 and the first
    question's buttons: 相談を続ける and the staff button were gone."""
    alarm = say(engine, started(engine).conv, "死にたい")
    out = say(engine, alarm.conv, "返事ください")
    assert out.reply.texts() == ["落ち着いたら続きをどうぞ。"]
    assert labels(out) == ["相談を続ける", "スタッフと話したい"]
    on = tap(engine, out, "相談を続ける")
    missed = say(engine, on.conv, "ほげほげ")
    assert missed.reply.texts()[0] != "落ち着いたら続きをどうぞ。"  # going on ends it


def test_a_late_no_on_an_old_question_still_leaves_a_line(engine):
    asked = say(engine, started(engine).conv, "もう疲れた")
    moved = say(engine, asked.conv, "最初から")
    no = next(b for b in asked.reply.buttons if b.label == "いいえ")
    out = engine.handle(moved.conv, Inbound("button", T0, data=no.data, text=no.text))
    assert "つらくなったときの電話です。" in out.reply.texts(), out.reply.texts()


def test_a_sure_alarm_while_asked_answers_at_once(engine):
    asked = say(engine, started(engine).conv, "こわい")
    assert asked.reply.texts() == ["身の危険を感じていますか？"]
    out = say(engine, asked.conv, "殺すぞと言われた")
    assert out.reply.texts()[0] == "危険なときはすぐ110番へ。" and out.conv.state == "what"


def test_someone_writing_about_another_person_is_asked_about_them(engine):
    out = say(engine, started(engine).conv, "娘がもう疲れたと言っています")
    assert out.reply.texts() == ["その方は死にたいほどつらそうですか？"]


def test_commands_still_work_while_asked(engine):
    asked = say(engine, started(engine).conv, "もう疲れた")
    out = say(engine, asked.conv, "スタッフと話したい")
    assert out.reply.texts() == ["スタッフにつなぎますか？"]


def test_staff_who_have_the_conversation_see_detections_and_the_bot_stays_silent(engine):
    conv = started(engine).conv
    out = engine.handle(conv, Inbound("text", T0, text="もう疲れた"), DeskView("claimed"))
    assert out.reply.messages == [] and out.conv.flags["detections"][-1]["level"] == "possible"
    out = engine.handle(conv, Inbound("text", T0, text="死にたい"), DeskView("claimed"))
    assert out.reply.messages == [] and "alert:crisis" in out.actions


def test_one_latin_word_in_a_japanese_conversation_stays_japanese(engine):
    """ok, www, SNS or help typed mid-interview: too little to switch to English."""
    conv = started(engine).conv
    for word in ("ok", "www", "SNS"):
        out = say(engine, conv, word)
        assert "english" not in out.fired and out.conv.state == "what", (word, out.fired)
    assert "english" in say(engine, conv, "I was doxxed on a forum").fired  # a sentence is
    assert "english" in say(engine, engine.handle(None, Inbound("follow", T0)).conv,
                            "hello").fired  # nothing said in Japanese yet


def test_english_gets_an_english_answer_without_the_interview(engine):
    conv = started(engine).conv
    out = say(engine, conv, "I want to die")
    assert out.reply.texts() == ["Thank you for telling me.", "This is a test bot.", "110 or 119.",
                                 "To write to a person, tap the button."]
    assert out.conv.state == "what" and "alert:crisis" in out.actions
    assert labels(out) == ["スタッフと話したい"]


def test_english_is_not_answered_with_the_whole_list_each_time(engine):
    """A student who wrote myself, staff, I want to talk to a human got the same long list
    every time, and no way to reach a person."""
    first = say(engine, started(engine).conv, "I was doxxed on a forum")
    assert "This is a test bot." in first.reply.texts()
    again = say(engine, first.conv, "hello")
    assert again.reply.texts() == ["I can only ask in Japanese.", "To write to a person, tap the button."]
    assert labels(again) == ["スタッフと話したい"]
    alarm = say(engine, again.conv, "I want to die")  # an alarm is always answered in full
    assert alarm.reply.texts()[:2] == ["Thank you for telling me.", "110 or 119."]
    maybe = say(engine, again.conv, "i feel like disappearing")  # and a possible one too
    assert maybe.reply.texts()[0] == "110 or 119.", maybe.reply.texts()


def test_english_while_waiting_for_staff_is_told_it_reached_them_with_no_button(engine):
    """An English speaker waiting for staff got the staff button again; the queue's only
    button, ボットに戻る, then cancelled the request."""
    conv = say(engine, started(engine).conv, "I was doxxed on a forum").conv
    out = engine.handle(conv, Inbound("text", T0, text="hello"), DeskView("waiting", 0))
    assert out.reply.texts() == ["Staff will write back."] and out.reply.buttons == []


def test_go_on_after_an_alarm_without_tapping(engine):
    out = say(engine, started(engine).conv, "死にたい")
    typed = say(engine, out.conv, "続ける")
    assert typed.reply.texts() == ["何がありましたか？"]
    assert CONTINUE.startswith("c:")


def test_an_alarm_cancels_a_pending_confirmation(engine):
    conv = say(engine, started(engine).conv, "スタッフと話したい").conv
    out = say(engine, conv, "死にたい")
    assert out.conv.state == "what" and labels(out) == ["相談を続ける", "スタッフと話したい"]


def test_an_alarm_for_a_stored_answer_state_survives(engine):
    conv = ConvState("main", "what", {"audience": "self"})
    out = say(engine, conv, "死にたい")
    assert out.conv.answers == {"audience": "self"}
