"""Every reply of the shipped flow as LINE gets it: valid for the SDK, within limits, tappable on PC."""
from __future__ import annotations

import itertools

from bot.channels.line.check import actions, problems
from bot.channels.line.render import render
from bot.engine import ContactCard, ConvState, Inbound

from .conftest import at

DAY, NIGHT = at("2026-11-24T10:00"), at("2026-11-24T22:00")
WORDS = ("殺すと言われて死にたい", "薬をたくさん飲んだ", "つらい", "相談窓口", "ヘルプ", "戻る", "最初から",
         "緊急のとき", "スタッフと話したい", "データを削除", "I was harassed online", "あいうえお")


def replies(engine):
    """Every state entered by every button, and every command and alarm in every state."""
    answer_sets = [{"audience": a, "child": c, "topic": t, "want": w, "partner": p}
                   for a, c, t, w, p in itertools.product(
                       ["self", "guardian"], [True, False], ["defamation", "threat", "sexual_image",
                                                            "illegal_report", "account"],
                       ["identify", "police"], [True, False])]
    yield "follow", engine.handle(None, Inbound("follow", DAY))
    for state, spec in engine.spec.states.items():
        for answers, now in itertools.product(answer_sets[::3], (DAY, NIGHT)):
            conv = ConvState("main", state, dict(answers))
            for b in spec.buttons:
                yield f"{state}.{b.id}", engine.handle(conv, Inbound("button", now,
                                                                     data=f"b:{state}:{b.id}"))
        for words in WORDS:
            yield f"{state}: {words}", engine.handle(ConvState("main", state, answer_sets[0]),
                                                     Inbound("text", NIGHT, text=words))


def inside(message):
    """The postback data of the buttons inside a message (not its quick replies)."""
    body = {k: v for k, v in message.items() if k != "quickReply"}
    return [a["data"] for a in actions(body) if a["type"] == "postback"]


def test_every_reply_of_every_state_is_valid_for_the_sdk_and_lines_limits(engine):
    seen = set()
    for where, outcome in replies(engine):
        batches = render(outcome.reply)
        assert len(batches) == 1, where
        assert problems(batches[0]) == [], where
        seen.add(outcome.conv.state)
    assert set(engine.spec.states) <= seen


def test_every_question_can_be_answered_with_a_tap_on_pc(engine):
    for where, outcome in replies(engine):
        if outcome.reply.buttons:
            last = render(outcome.reply)[0][-1]
            assert inside(last) == [b.data for b in outcome.reply.buttons], where


def test_every_window_shown_can_be_called_with_one_tap(engine):
    for where, outcome in replies(engine):
        cards = [m for m in outcome.reply.messages if isinstance(m, ContactCard)]
        uris = [a.get("uri", "") for m in render(outcome.reply)[0] for a in actions(m)]
        for card in cards:
            for phone in card.phones:
                digits = "".join(ch for ch in phone.number if ch.isdigit())
                assert any(u.startswith("tel:") and u.endswith(digits) for u in uris), (where, phone)


def test_the_windows_answer_is_one_short_line_and_one_carousel(engine):
    conv = ConvState("main", "advice", {"audience": "self", "child": False, "topic": "defamation",
                                        "want": "delete"})
    out = engine.handle(conv, Inbound("button", DAY, data="b:advice:windows"))
    batch = render(out.reply)[0]
    assert [m["type"] for m in batch] == ["text", "flex"]
    assert len(batch[0]["text"]) <= 40
    carousel = batch[1]["contents"]
    cards = [m for m in out.reply.messages if isinstance(m, ContactCard)]
    assert carousel["type"] == "carousel" and len(carousel["contents"]) == len(cards) + 1
    assert "みんなの人権110番" in batch[1]["altText"]


def test_every_rich_menu_area_is_a_command_the_engine_runs(engine):
    from bot.channels.line.richmenu import menu

    for area in menu()["areas"]:
        data = area["action"]["data"]
        out = engine.handle(ConvState("main", "want", {"audience": "self"}),
                            Inbound("button", DAY, data=data))
        assert f"command:{data[2:]}" in out.fired, (data, out.fired)
        assert out.reply.messages and problems(render(out.reply)[0]) == []
