"""Hostile bodies with a valid signature: never a 500, and the valid events of a batch are kept."""
from __future__ import annotations

import json
import time

import pytest

from bot.channels.line.plain import message_text

from ..line_fake import PUSH, REPLY, LineUser, sign

GREETING = "テスト用のあいさつです。"


@pytest.fixture
def person(make_app, database):
    app = make_app(DATABASE_URL=database)
    return LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])


def post_raw(person: LineUser, raw: bytes):
    signature = sign(raw.decode("utf-8", "surrogateescape"), person.secret) \
        if b"\xff" not in raw else None
    if signature is None:  # sign the raw bytes, as LINE would
        import base64, hashlib, hmac
        signature = base64.b64encode(hmac.new(person.secret.encode(), raw, hashlib.sha256)
                                     .digest()).decode()
    return person.client.post("/callback", data=raw, headers={
        "Content-Type": "application/json", "X-Line-Signature": signature})


def greeted(line_api, count: int = 1) -> None:
    bodies = line_api.wait_for(REPLY, count)
    assert message_text(bodies[-1][0]["messages"][0]) == GREETING


def test_json_nested_too_deep_gets_400_and_the_server_goes_on(person, line_api):
    deep = '{"destination": "U0", "events": [' + "[" * 5000 + "]" * 5000 + "]}"
    assert person.post(body=deep).status_code == 400
    assert person.post(person.follow()).status_code == 200
    greeted(line_api)


@pytest.mark.parametrize("field, value", [
    ("timestamp", 10 ** 20),             # past Python's dates
    ("timestamp", -(10 ** 18)),
    ("webhookEventId", "\ud800"),        # a lone surrogate
    ("webhookEventId", "A\u0000B"),      # a NUL: PostgreSQL cannot store it
    ("webhookEventId", "E" * 5000),      # longer than any column
    ("replyToken", "\udfff"),
    ("replyToken", 12345),               # the wrong JSON types, field by field
    ("timestamp", "1700000000000"),
    ("timestamp", 1.7e12),
    ("timestamp", True),
    ("source", "U" + "1" * 32),
    ("source", {"type": "user", "userId": ["U1"]}),
    ("source", {"type": ["user"], "userId": "U" + "1" * 32}),  # unhashable: was a 500
    ("source", {"type": {"a": 1}, "userId": "U" + "1" * 32}),
    ("message", "こんにちは"),
    ("message", {"type": "text", "text": 5}),
    ("message", {"type": "text", "text": "こんにちは", "markAsReadToken": {"a": 1}}),
    ("type", ["message"]),
    ("mode", None),
])
def test_a_bad_event_is_skipped_and_the_valid_one_answered(person, line_api, field, value):
    bad = person.text("こんにちは")
    bad[field] = value
    body = json.dumps({"destination": "U0", "events": [bad, person.follow()]})
    assert person.post(body=body).status_code == 200
    greeted(line_api)
    time.sleep(0.3)
    assert line_api.sent_count() == 1


def test_an_empty_reply_token_is_no_token_and_the_event_is_answered(person, line_api):
    """As the SDK read it: the answer goes by push instead of being dropped."""
    follow = person.follow()
    follow["replyToken"] = ""
    person.post(follow)
    [(body, _)] = line_api.wait_for(PUSH, 1)
    assert message_text(body["messages"][0]) == GREETING
    assert line_api.requests(REPLY) == []


@pytest.mark.parametrize("postback", ["data=1", {"data": 1}, {"data": None}, {}])
def test_a_button_press_with_bad_data_is_skipped(person, line_api, postback):
    bad = person.event("postback", postback=postback)
    body = json.dumps({"destination": "U0", "events": [bad, person.follow()]})
    assert person.post(body=body).status_code == 200
    greeted(line_api)
    time.sleep(0.3)
    assert line_api.sent_count() == 1


@pytest.mark.parametrize("user_id", ["U\ud800", "U\u0000" + "1" * 31, "U" + "1" * 500])
def test_a_bad_user_id_is_skipped(person, line_api, user_id):
    bad = person.follow(source={"type": "user", "userId": user_id})
    body = json.dumps({"destination": "U0", "events": [bad, person.follow()]})
    assert person.post(body=body).status_code == 200
    greeted(line_api)
    time.sleep(0.3)
    assert line_api.sent_count() == 1


@pytest.mark.parametrize("text", ["\ud800こんにちは", "こんにちは\u0000", "\u0007\u001b[31m"])
def test_text_that_cannot_be_stored_is_cleaned_and_answered(person, line_api, text):
    person.post(person.follow())
    greeted(line_api)
    person.post(body=json.dumps({"destination": "U0", "events": [person.text(text)]}))
    replies = line_api.wait_for(REPLY, 2)
    assert replies[1][0]["messages"]  # an answer, not silence
    person.post(person.text("自分"))  # and the next message is not blocked
    assert [message_text(m) for m in line_api.wait_for(REPLY, 3)[2][0]["messages"]] == ["何がありましたか？"]


def test_a_signed_body_that_is_not_utf8_gets_400(person, line_api):
    raw = b'{"destination": "U0", "events": [\xff\xfe]}'
    assert post_raw(person, raw).status_code == 400


def test_the_signature_is_checked_on_the_raw_bytes(person, line_api):
    """Before: bytes were decoded with replacement first, so other bytes passed the same check."""
    body = person.body(person.text("\ufffd")).encode("utf-8")  # LINE signed these bytes
    signature = sign(body.decode(), person.secret)
    forged = body.replace("\ufffd".encode(), b"\xff")  # decodes to the same text
    assert person.client.post("/callback", data=forged, headers={
        "X-Line-Signature": signature}).status_code == 400
    assert person.client.post("/callback", data=body, headers={
        "X-Line-Signature": signature}).status_code == 200


def test_a_huge_body_gets_413(person, line_api):
    huge = b'{"destination": "U0", "events": []' + b" " * (10 * 1024 * 1024) + b"}"
    resp = person.client.post("/callback", data=huge, headers={"X-Line-Signature": "x"})
    assert resp.status_code == 413


def test_crisis_words_with_a_nul_still_get_the_crisis_lines(make_app, line_api, database):
    """Before: 「死にたい\\u0000」 could not be stored on PostgreSQL and got no answer at all."""
    from bot import config

    app = make_app(DATABASE_URL=database, FLOWS_DIR=config.DEFAULTS["FLOWS_DIR"])
    person = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
    person.post(person.follow())
    line_api.wait_for(REPLY, 1)
    person.post(body=json.dumps({"destination": "U0", "events": [person.text("死にたい\u0000")]}))
    texts = [message_text(m) for m in line_api.wait_for(REPLY, 2)[1][0]["messages"]]
    assert texts[0].startswith("話してくださって、ありがとうございます")
    assert any("☎" in t for t in texts[1:])  # a crisis line with its number
