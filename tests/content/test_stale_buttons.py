"""Buttons inside old messages stay tappable: each tap is read for what it meant."""
from __future__ import annotations

from bot.engine import ContactCard, ConvState, Inbound

from .conftest import at

NOW = at("2026-11-24T22:00")
ANSWERS = {"audience": "self", "child": False, "topic": "stalking"}


def tap(engine, state, data, answers=ANSWERS):
    return engine.handle(ConvState("main", state, dict(answers)), Inbound("button", NOW, data=data))


def ids(out):
    return [m.contact_id for m in out.reply.messages if isinstance(m, ContactCard)]


def test_an_earlier_questions_answer_is_not_taken_for_the_current_question(engine):
    out = tap(engine, "partner", "b:age:unknown_age")  # わからない to the age, not to the partner
    assert out.conv.state == "partner" and "partner" not in out.conv.answers
    assert out.reply.texts()[0].startswith("そのボタンは、前の質問のものです")
    assert out.reply.texts()[1].startswith("相手は、被害にあっている方の交際相手")
    assert [b.label for b in out.reply.buttons][0] == "交際相手・配偶者（元も）"


def test_the_same_button_offered_again_works_from_an_earlier_message(engine):
    out = tap(engine, "evidence_more", "b:advice:windows", dict(ANSWERS, want="police"))
    assert out.conv.state == "windows" and ids(out)


def test_an_earlier_yes_to_the_crisis_question_gives_the_crisis_lines_at_once(engine):
    out = tap(engine, "want", "@check_crisis:yes")
    assert out.reply.texts()[0].startswith("話してくださって、ありがとうございます")
    assert ids(out)[0] == "yorisoi" and out.conv.flags["crisis"] is True
    assert "alert:crisis" in out.actions and out.conv.state == "want"


def test_an_earlier_yes_to_the_danger_question_gives_110(engine):
    out = tap(engine, "what", "@check_danger:yes")
    assert ids(out)[0] == "police_110" and "alert:danger" in out.actions


def test_an_earlier_no_is_thanked_and_the_current_question_asked_again(engine):
    out = tap(engine, "want", "@check_crisis:no")
    assert out.reply.texts()[0].startswith("答えてくださって、ありがとうございます")
    assert out.reply.texts()[-1].startswith("どうしたいですか") and out.conv.state == "want"
    assert "crisis" not in out.conv.flags


def test_an_earlier_yes_to_deleting_asks_again_and_deletes_nothing(engine):
    out = tap(engine, "want", "@delete_confirm:yes")
    assert "delete" not in out.actions and out.conv.state == "@delete_confirm"
    assert out.reply.texts() == ["これまでのやり取りの記録と答えを、すべて削除します。元には戻せません。よろしいですか？"]
    handoff = tap(engine, "want", "@handoff_confirm:yes")
    assert "handoff:request" not in handoff.actions and handoff.conv.state == "@handoff_confirm"


def test_the_emergency_command_shows_110_119_and_the_crisis_lines_open_now(engine):
    out = engine.handle(ConvState("main", "what", dict(ANSWERS)),
                        Inbound("button", NOW, data="c:emergency"))
    assert ids(out)[:3] == ["police_110", "emergency_119", "yorisoi"]
    cards = [m for m in out.reply.messages if isinstance(m, ContactCard)]
    assert all(c.open_now for c in cards) and cards[0].kind == cards[1].kind == "emergency"
    back = engine.handle(out.conv, Inbound("text", NOW, text="戻る"))
    assert back.conv.state == "what"
