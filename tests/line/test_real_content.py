"""The shipped content through the real webhook: safety first, and no victim's words in logs."""
from __future__ import annotations

import logging

from bot import config

from ..line_fake import REPLY, LineUser


def test_crisis_words_mid_interview_get_crisis_lines_first(make_app, line_api, caplog):
    caplog.set_level(logging.INFO)
    app = make_app(FLOWS_DIR=config.DEFAULTS["FLOWS_DIR"])
    user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
    user.post(user.follow())
    first = line_api.wait_for(REPLY, 1)[0][0]
    assert "弁護士や警察ではありません" in first["messages"][0]["text"]
    user.post(user.text("自分のことです"))
    line_api.wait_for(REPLY, 2)
    secret = "もう死にたいです、誰にも言えない"
    user.post(user.text(secret))
    body = line_api.wait_for(REPLY, 3)[2][0]
    texts = [m["text"] for m in body["messages"]]
    assert texts[0].startswith("話してくださって、ありがとうございます")
    assert "0120-279-338" in "\n".join(texts)
    assert body["messages"][-1]["quickReply"]["items"]  # the conversation goes on
    conv = app.extensions["bot"].store.load(f"line:{user.user_id}")
    assert conv.flags["crisis"] is True and conv.state == "age"
    assert secret not in caplog.text and "死にたい" not in caplog.text
    assert "interrupt:crisis" in caplog.text
