"""Danger and crisis interrupt every state, first; and no reply ever breaks LINE's limits."""
from __future__ import annotations

import itertools

import pytest
from linebot.v3.messaging import ReplyMessageRequest

from bot.channels.line.check import problems
from bot.channels.line.render import render
from bot.engine import ContactCard, ConvState, Inbound
from bot.engine.limits import BUTTONS_MAX, DATA_MAX, LABEL_MAX, MESSAGES_MAX, TEXT_MAX_UTF16, utf16_len

from .conftest import at

NOW = at("2026-11-24T22:00")  # a weekday night: government lines closed, 24h lines open
ANSWERS = {"audience": "self", "child": False, "topic": "defamation", "want": "delete"}
DANGER_WORDS = ["殺すと言われた", "家に来るってDMが来た", "住所を特定されて近くにいるって言われた"]
CRISIS_WORDS = ["死にたい", "消えたい", "もう生きていたくない"]


def states(engine):
    return list(engine.spec.states)


def ids(outcome):
    return [m.contact_id for m in outcome.reply.messages if isinstance(m, ContactCard)]


AFTER = ["相談を続ける", "スタッフと話したい"]


@pytest.mark.parametrize("words", DANGER_WORDS)
def test_danger_interrupts_every_state_with_110_first_and_nothing_else(engine, words):
    for state in states(engine):
        conv = ConvState("main", state, dict(ANSWERS))
        out = engine.handle(conv, Inbound("text", NOW, text=words))
        texts = out.reply.texts()
        assert texts[0].startswith("いま危険が迫っているなら、すぐに110番"), state
        assert "ドアを開けない" in texts[0]
        assert ids(out)[0] == "police_110", state
        assert "police_9110" not in ids(out), f"#9110 is closed at night ({state})"
        assert out.conv.flags["danger"] is True and out.conv.state == state
        assert [b.label for b in out.reply.buttons] == AFTER, state
        assert not any("として進めます" in t for t in texts), state


@pytest.mark.parametrize("words", CRISIS_WORDS)
def test_crisis_interrupts_every_state_with_open_lines_and_nothing_else(engine, words):
    for state in states(engine):
        conv = ConvState("main", state, dict(ANSWERS))
        out = engine.handle(conv, Inbound("text", NOW, text=words))
        texts = out.reply.texts()
        assert texts[0].startswith("話してくださって、ありがとうございます"), state
        assert ids(out)[:2] == ["yorisoi", "mamorouyokokoro"], state
        assert out.conv.flags["crisis"] is True and out.conv.state == state
        assert texts[-1].startswith("落ち着いたら「相談を続ける」を押してください")
        assert [b.label for b in out.reply.buttons] == AFTER, state


def test_the_interview_goes_on_when_the_person_is_ready(engine):
    asked = {k: v for k, v in ANSWERS.items() if k != "want"}
    out = engine.handle(ConvState("main", "want", asked),
                        Inbound("text", NOW, text="晒されて死にたい。消してほしい"))
    assert not any(t.startswith(("まず、相手に", "消される前に")) for t in out.reply.texts())
    went_on = engine.handle(out.conv, Inbound("button", NOW, data=out.reply.buttons[0].data))
    assert went_on.conv.state == "advice"
    assert went_on.reply.texts()[0].startswith("「書き込みを消したい」として進めます")


def test_a_child_in_crisis_gets_the_childrens_line_too(engine):
    conv = ConvState("main", "what", {"audience": "guardian", "child": True})
    out = engine.handle(conv, Inbound("text", NOW, text="娘が死にたいと言っています"))
    assert ids(out)[0] == "mext_sos" and "yorisoi" in ids(out)


def test_a_parent_is_told_how_to_help_not_spoken_to_as_the_one_at_risk(engine):
    out = engine.handle(None, Inbound("text", NOW, text="娘がもう消えたいと言っています"))
    text = "\n".join(out.reply.texts())
    assert "そばにいて" in text and "ひとりにしない" in text and "119番" in text
    assert "いま、とてもつらいのですね" not in text
    assert ids(out)[0] == "mext_sos"


def test_danger_and_crisis_together_say_both_danger_first(engine):
    out = engine.handle(ConvState("main", "want", dict(ANSWERS)),
                        Inbound("text", NOW, text="殺すと言われてもう死にたい"))
    texts = out.reply.texts()
    assert texts[0].startswith("いま危険が迫っている") and "話してくださって" in "".join(texts)
    assert out.conv.flags["danger"] and out.conv.flags["crisis"]


@pytest.mark.parametrize("words", ["薬をたくさん飲んだ", "手首を切って血が止まらない", "ODした"])
def test_a_medical_emergency_gets_119_before_anything_else(engine, words):
    out = engine.handle(ConvState("main", "want", dict(ANSWERS)), Inbound("text", NOW, text=words))
    assert out.reply.texts()[0].startswith("いますぐ119番に電話して")


def test_an_alert_on_a_brand_new_conversation_comes_without_the_greeting(engine):
    out = engine.handle(None, Inbound("text", NOW, text="死にたい"))
    assert out.reply.texts()[0].startswith("話してくださって")
    assert not any(t.startswith("こんにちは") for t in out.reply.texts())
    went_on = engine.handle(out.conv, Inbound("button", NOW, data=out.reply.buttons[0].data))
    assert went_on.reply.texts()[0].startswith("こんにちは")


def check_line_limits(outcome, where: str) -> None:
    batches = render(outcome.reply)
    assert len(batches) <= 1, f"{where}: needs {len(batches)} requests"
    for batch in batches:
        assert 1 <= len(batch) <= MESSAGES_MAX
        assert problems(batch) == [], where  # every limit, and the SDK's models
        for msg in batch:
            if msg["type"] == "text":
                assert utf16_len(msg["text"]) <= TEXT_MAX_UTF16
        items = batch[-1].get("quickReply", {}).get("items", [])
        assert len(items) <= BUTTONS_MAX
        assert len(items) == len(outcome.reply.buttons), where
        for item in items:
            assert len(item["action"]["label"]) <= LABEL_MAX, (where, item)
            assert len(item["action"]["data"]) <= DATA_MAX
        ReplyMessageRequest.from_dict({"replyToken": "x", "messages": batch})


def test_no_reply_ever_breaks_lines_limits(engine):
    answer_sets = [dict(ANSWERS, topic=t, want=w, child=c)
                   for t, w, c in itertools.product(
                       ["defamation", "stalking", "threat", "sexual_image", "illegal_report", "other"],
                       ["delete", "identify", "police", "talk"], [True, False])]
    checked = 0
    for state in states(engine):
        for answers in answer_sets:
            conv = ConvState("main", state, answers)
            spec = engine.spec.states[state]
            inbounds = [Inbound("button", NOW, data=f"b:{state}:{b.id}") for b in spec.buttons]
            inbounds += [Inbound("text", NOW, text=t) for t in ("殺すと言われて死にたい", "相談窓口", "ヘルプ")]
            for inbound in inbounds:
                check_line_limits(engine.handle(conv, inbound), f"{state} {answers} {inbound}")
                checked += 1
    check_line_limits(engine.handle(None, Inbound("follow", NOW)), "follow")
    assert checked > 1000
