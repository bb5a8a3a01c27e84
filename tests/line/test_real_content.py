"""The shipped content through the real webhook: safety first, and no victim's words in logs."""
from __future__ import annotations

import logging

from bot import config

from bot.channels.line.check import actions, problems
from bot.channels.line.plain import message_text

from ..line_fake import REPLY, LineUser


def test_crisis_words_mid_interview_get_crisis_lines_first(make_app, line_api, caplog):
    caplog.set_level(logging.INFO)
    app = make_app(FLOWS_DIR=config.DEFAULTS["FLOWS_DIR"])
    user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
    user.post(user.follow())
    first = line_api.wait_for(REPLY, 1)[0][0]
    assert "弁護士や警察ではありません" in message_text(first["messages"][0])
    user.post(user.text("自分のことです"))
    line_api.wait_for(REPLY, 2)
    secret = "もう死にたいです、誰にも言えない"
    user.post(user.text(secret))
    body = line_api.wait_for(REPLY, 3)[2][0]
    texts = [message_text(m) for m in body["messages"]]
    assert body["messages"][0]["type"] == "text"  # the alert itself: shown in the notification
    assert texts[0].startswith("話してくださって、ありがとうございます")
    lines = body["messages"][1]
    assert lines["type"] == "flex" and "0120-279-338" in lines["altText"]
    assert "tel:0120279338" in [a.get("uri") for a in actions(lines)]
    assert body["messages"][-1]["quickReply"]["items"]  # the conversation goes on
    conv = app.extensions["bot"].store.load(f"line:{user.user_id}")
    assert conv.flags["crisis"] is True and conv.state == "age"
    assert secret not in caplog.text and "死にたい" not in caplog.text
    assert "interrupt:crisis" in caplog.text


def test_the_windows_arrive_as_one_carousel_with_call_buttons(make_app, line_api):
    app = make_app(FLOWS_DIR=config.DEFAULTS["FLOWS_DIR"])
    user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
    taps = ["b:start:self", "b:age:adult", "b:what:defamation", "b:want:delete", "b:advice:windows"]
    user.post(user.follow())
    for i, data in enumerate(taps, 2):
        user.post(user.tap(data))
        line_api.wait_for(REPLY, i)
    body = line_api.requests(REPLY)[-1][0]
    assert problems(body["messages"]) == []
    lead, cards = body["messages"]
    assert lead == {"type": "text", "text": "あなたの状況に合う窓口です。いま受付中のものから並べています。"}
    assert cards["type"] == "flex" and cards["contents"]["type"] == "carousel"
    uris = [a.get("uri") for a in actions(cards)]
    assert "tel:0570003110" in uris and "https://www.moj.go.jp/JINKEN/jinken20.html" in uris
    assert [i["action"]["label"] for i in cards["quickReply"]["items"]] == [
        "すべての窓口を見る", "最初から", "スタッフと話したい"]
    user.post(user.tap("c:contacts"))  # the "すべての窓口を見る" of a full carousel, or the menu
    assert "相談窓口の一覧です" in message_text(line_api.wait_for(REPLY, 7)[-1][0]["messages"][0])
