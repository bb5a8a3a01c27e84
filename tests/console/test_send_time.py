"""The bot's silence is checked when sending, not only when the message arrived."""
from __future__ import annotations

import logging
import time

from bot.channels.line.plain import message_text

from ..line_fake import PUSH, REPLY
from .conftest import claimed, login, post


def test_a_bot_reply_still_in_retry_is_withheld_once_staff_claim(bot, person, line_api, caplog):
    caplog.set_level(logging.INFO, logger="bot.handling")
    person.asks_for_staff()
    person.says("ボットに戻る")  # back with the bot, no request open
    line_api.behaviour[REPLY] = lambda b: (500, {"message": "Internal error"})
    line_api.behaviour[PUSH] = lambda b: (500, {"message": "Internal error"})
    person.line.post(person.line.text("18歳以上"))  # decided now, sending fails, retried in ~2 s
    deadline = time.time() + 5
    while not message_text(line_api.requests(REPLY)[-1][0]["messages"][0]).startswith("何がありましたか"):
        assert time.time() < deadline
        time.sleep(0.05)
    store = bot.extensions["bot"].store
    handoff, _ = store.handoffs.request(person.key, 0)  # asked again meanwhile (e.g. by phone)
    alice = login(bot, "alice")
    post(alice, f"/console/c/{handoff.id}/claim", f"/console/c/{handoff.id}")
    del line_api.behaviour[REPLY], line_api.behaviour[PUSH]
    pushes = len(line_api.requests(PUSH))
    time.sleep(3.5)  # past the retry
    assert len(line_api.requests(PUSH)) == pushes  # the stale bot answer never went out
    assert "bot reply withheld" in caplog.text


def test_a_staff_reply_too_long_for_line_is_refused_with_a_reason(bot, person, line_api):
    person.asks_for_staff()
    alice, page = claimed(bot)
    resp = post(alice, f"{page}/reply", page, text="あ" * 26000)
    assert resp.status_code == 400
    assert "too long for one message request" in alice.get(page).get_data(as_text=True)
    assert line_api.requests(PUSH) == []
