"""Chat mode: a message shows 既読 only once the bot or a person has handled it."""
from __future__ import annotations

import pytest

from ..helpers import wait_until
from ..line_fake import MARK_READ, REPLY
from .conftest import claimed, post

CHAT_ON = pytest.mark.parametrize("bot", [True], indirect=True)


def read_tokens(line_api):
    return [body["markAsReadToken"] for body, _ in line_api.requests(MARK_READ)]


@CHAT_ON
def test_the_bot_marks_a_message_read_after_answering_it(bot, person, line_api):
    person.send(person.line.follow())
    event = person.line.text("自分のことです")
    person.send(event)
    assert wait_until(lambda: read_tokens(line_api) == [event["message"]["markAsReadToken"]])
    paths = [p for p, _, _ in line_api.received if p in (REPLY, MARK_READ)]
    assert paths[-2:] == [REPLY, MARK_READ]  # after the answer, never before


@CHAT_ON
def test_while_staff_have_it_a_message_stays_unread_until_staff_answer(bot, person, line_api):
    person.asks_for_staff()
    client, page = claimed(bot)
    before = read_tokens(line_api)
    event = person.line.text("よろしくお願いします")
    person.line.post(event)
    conv_key = person.key
    store = bot.extensions["bot"].store
    assert wait_until(lambda: store.load(conv_key).flags.get("unread"))
    assert read_tokens(line_api) == before  # nobody has read it yet: no 既読
    post(client, f"{page}/reply", page, text="スタッフの田中です。")
    assert wait_until(lambda: read_tokens(line_api)[-1:] == [event["message"]["markAsReadToken"]])


def test_with_chat_off_nothing_is_marked_line_does_it(bot, person, line_api):
    person.send(person.line.follow())
    person.says("自分のことです")
    assert line_api.requests(MARK_READ) == []
