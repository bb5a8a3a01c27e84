"""Replies always fit LINE's limits: long texts split (never cut), buttons clipped."""
from __future__ import annotations

from linebot.v3.messaging import ReplyMessageRequest

from bot.channels.line.render import render, split_text
from bot.engine import Button, Reply, Text
from bot.engine.limits import utf16_len


def test_short_text_is_one_message():
    assert render(Reply([Text("こんにちは")])) == [[{"type": "text", "text": "こんにちは"}]]


def test_long_text_is_split_at_line_breaks_and_nothing_is_lost():
    lines = [f"{i}行目: " + "あ" * 90 for i in range(120)]  # about 11,500 units
    text = "\n".join(lines)
    pieces = split_text(text)
    assert len(pieces) == 3
    assert all(utf16_len(p) <= 5000 for p in pieces)
    assert "\n".join(pieces) == text


def test_emoji_count_two_units_each():
    text = "😀" * 3000  # 6000 UTF-16 units in one line
    pieces = split_text(text)
    assert [utf16_len(p) for p in pieces] == [5000, 1000]
    assert "".join(pieces) == text


def test_more_than_five_messages_are_joined_to_fit_one_request():
    reply = Reply([Text(f"メッセージ{i}") for i in range(8)])
    batches = render(reply)
    assert len(batches) == 1 and len(batches[0]) == 5
    assert "\n\n".join(m["text"] for m in batches[0]).split("\n\n") == [f"メッセージ{i}" for i in range(8)]


def test_messages_too_long_to_join_go_in_further_requests():
    reply = Reply([Text("い" * 4000) for _ in range(7)])
    batches = render(reply)
    assert [len(b) for b in batches] == [5, 2]
    for batch in batches:
        ReplyMessageRequest.from_dict({"replyToken": "t", "messages": batch})


def test_buttons_are_clipped_to_lines_limits_and_go_under_the_last_message():
    buttons = [Button("とても長いボタンのラベルで二十文字を超えています", f"b:s:{i}", "x") for i in range(15)]
    batches = render(Reply([Text("一"), Text("二")], buttons))
    assert "quickReply" not in batches[0][0]
    items = batches[0][-1]["quickReply"]["items"]
    assert len(items) == 13
    assert all(len(i["action"]["label"]) <= 20 for i in items)
    assert items[0]["action"]["label"].endswith("…")
    ReplyMessageRequest.from_dict({"replyToken": "t", "messages": batches[0]})
