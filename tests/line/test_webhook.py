"""End to end through POST /callback: signed LINE payloads in, a fake Messaging API out."""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid

import pytest

from bot import create_app
from bot.channels.base import retry_key
from bot.engine import ConvKey
from bot.store import Turn

from bot.channels.line.plain import message_text

from ..helpers import wait_until
from ..line_fake import LOADING, PUSH, REPLY, LineUser

GREETING = "テスト用のあいさつです。"
WHO = "どなたのことですか？"
WHAT = "何がありましたか？"


def labels(body: dict) -> list[str]:
    return [i["action"]["label"] for i in body["messages"][-1]["quickReply"]["items"]]


def data_for(body: dict, label: str) -> str:
    items = body["messages"][-1]["quickReply"]["items"]
    return next(i["action"]["data"] for i in items if i["action"]["label"] == label)


def test_follow_gets_greeting_and_buttons_by_reply(user, line_api):
    follow = user.follow()
    assert user.post(follow).status_code == 200
    body, headers = line_api.wait_for(REPLY, 1)[0]
    assert body["replyToken"] == follow["replyToken"]
    assert [message_text(m) for m in body["messages"]] == [GREETING, WHO]
    assert labels(body) == ["自分", "友人・家族"]
    assert headers["Authorization"] == "Bearer test-channel-token"


def test_taps_and_words_drive_the_conversation(user, line_api):
    user.post(user.follow())
    first = line_api.wait_for(REPLY, 1)[0][0]
    user.post(user.tap(data_for(first, "友人・家族")))
    second = line_api.wait_for(REPLY, 2)[1][0]
    assert [message_text(m) for m in second["messages"]] == [WHAT]
    user.post(user.text("友人がネットで悪口を書かれています"))
    third = line_api.wait_for(REPLY, 3)[2][0]
    assert [message_text(m) for m in third["messages"]] == [
        "「悪口を書かれた」として進めます。", "ご本人からの相談が必要な窓口もあります。",
        "ありがとうございました。", "悪口の件ですね。"]


@pytest.mark.parametrize("signature", [None, "forged", "c2lnbmF0dXJl"])
def test_missing_or_wrong_signature_is_refused_and_nothing_runs(app, user, line_api, caplog,
                                                              signature):
    caplog.set_level(logging.DEBUG)
    secret_words = "誰にも言えない秘密の相談"
    resp = user.post(user.text(secret_words), signature=signature)
    assert resp.status_code == 400
    time.sleep(0.4)
    assert line_api.sent_count() == 0
    assert app.extensions["bot"].store.pending_keys(time.time() + 60) == []
    assert secret_words not in caplog.text


def test_verify_button_with_no_events_gets_200(user, line_api):
    assert user.post().status_code == 200
    time.sleep(0.3)
    assert line_api.sent_count() == 0


@pytest.mark.parametrize("body", [
    "not json at all",
    '{"destination": "U0"}',
    '{"destination": "U0", "events": "nope"}',
    '[1, 2, 3]',
])
def test_malformed_bodies_get_400_not_500(user, line_api, body):
    assert user.post(body=body).status_code == 400
    assert line_api.sent_count() == 0


def test_an_event_missing_v3_fields_is_skipped_and_the_others_kept(user, line_api):
    broken = user.text("こんにちは")
    del broken["webhookEventId"], broken["deliveryContext"]
    assert user.post(broken, {"type": "message"}, user.follow()).status_code == 200
    body = line_api.wait_for(REPLY, 1)[0][0]
    assert [message_text(m) for m in body["messages"]] == [GREETING, WHO]
    time.sleep(0.3)
    assert line_api.sent_count() == 1


def test_unknown_event_types_and_standby_are_ignored(user, line_api):
    unknown = user.event("somethingNew", reply_token=None)
    standby = user.text("待機中のメッセージ", mode="standby")
    assert "replyToken" not in standby
    assert user.post(unknown, standby).status_code == 200
    time.sleep(0.4)
    assert line_api.sent_count() == 0


def test_redelivered_event_is_processed_once(user, line_api):
    follow = user.follow()
    again = dict(follow, deliveryContext={"isRedelivery": True})
    assert user.post(follow).status_code == 200
    line_api.wait_for(REPLY, 1)
    assert user.post(again).status_code == 200
    assert user.post(follow, again).status_code == 200
    time.sleep(0.5)
    assert len(line_api.requests(REPLY)) == 1


def test_sticker_gets_kind_answer_and_state_stays(user, line_api):
    user.post(user.follow())
    first = line_api.wait_for(REPLY, 1)[0][0]
    user.post(user.tap(data_for(first, "自分")))
    line_api.wait_for(REPLY, 2)
    user.post(user.sticker())
    body = line_api.wait_for(REPLY, 3)[2][0]
    assert [message_text(m) for m in body["messages"]] == ["画像やスタンプは読み取れません。"]
    assert labels(body) == ["悪口を書かれた", "つきまとい"]


def test_group_chat_gets_one_notice_and_no_interview(user, line_api):
    group = {"type": "group", "groupId": "C" + "9" * 32, "userId": user.user_id}
    user.post(user.text("悪口を書かれた", source=group))
    body = line_api.wait_for(REPLY, 1)[0][0]
    assert [message_text(m) for m in body["messages"]] == ["グループでは相談をお受けしていません。1対1でどうぞ。"]
    assert "quickReply" not in body["messages"][-1]
    user.post(user.text("自分", source=group), user.text("つきまとい", source=group))
    time.sleep(0.5)
    assert line_api.sent_count() == 1


def test_a_room_hears_the_notice_on_join_and_again_after_the_bot_left(user, line_api):
    room = {"type": "room", "roomId": "R" + "8" * 32, "userId": user.user_id}
    notice = ["グループでは相談をお受けしていません。1対1でどうぞ。"]
    user.post(user.event("join", source=room))
    assert [message_text(m) for m in line_api.wait_for(REPLY, 1)[0][0]["messages"]] == notice
    user.post(user.text("悪口を書かれた", source=room))
    time.sleep(0.5)
    assert line_api.sent_count() == 1  # once per room
    user.post(user.event("leave", source=room, reply_token=None))
    user.post(user.event("join", source=room))  # invited again: what it stored was deleted
    assert [message_text(m) for m in line_api.wait_for(REPLY, 2)[1][0]["messages"]] == notice


def test_webhook_answers_fast_while_api_stalls(make_app, line_api):
    app = make_app(LOADING_AFTER_SECONDS=0.5)
    user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
    line_api.delay[REPLY] = 10.0
    started = time.monotonic()
    user.post(user.follow())
    first = time.monotonic() - started
    line_api.wait_for(REPLY, 1, timeout=3)  # the stalled call is under way
    started = time.monotonic()
    assert user.post(user.text("自分")).status_code == 200
    second = time.monotonic() - started
    assert first < 1.0 and second < 1.0
    loading = line_api.wait_for(LOADING, 1, timeout=5)[0][0]
    assert loading["chatId"] == user.user_id and loading["loadingSeconds"] % 5 == 0
    bodies = [b for b, _ in line_api.wait_for(REPLY, 2, timeout=25)]
    assert [message_text(m) for m in bodies[1]["messages"]] == [WHAT]


def test_no_loading_animation_when_the_answer_comes_in_time(make_app, line_api):
    app = make_app(LOADING_AFTER_SECONDS=2.0)
    user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
    user.post(user.follow())
    line_api.wait_for(REPLY, 1, timeout=5)
    user.post(user.text("自分"))
    line_api.wait_for(REPLY, 2, timeout=5)
    assert app.extensions["bot"].dispatcher.handler.alarms.pending() == 0  # both cancelled
    time.sleep(2.5)  # past the moment the animation was armed for
    assert line_api.requests(LOADING) == []


def test_spent_reply_token_falls_back_to_push_with_retry_key(user, line_api):
    line_api.behaviour[REPLY] = lambda b: (400, {"message": "Invalid reply token"})
    user.post(user.follow())
    body, headers = line_api.wait_for(PUSH, 1)[0]
    assert body["to"] == user.user_id
    assert [message_text(m) for m in body["messages"]] == [GREETING, WHO]
    assert uuid.UUID(headers["X-Line-Retry-Key"])
    assert len(line_api.requests(REPLY)) == 1


def test_failed_push_is_retried_with_the_same_retry_key(user, line_api):
    line_api.behaviour[REPLY] = lambda b: (400, {"message": "Invalid reply token"})
    answers = iter([(500, {"message": "Internal error"}), (200, {})])
    line_api.behaviour[PUSH] = lambda b: next(answers)
    user.post(user.follow())
    pushes = line_api.wait_for(PUSH, 2, timeout=10)
    assert pushes[0][1]["X-Line-Retry-Key"] == pushes[1][1]["X-Line-Retry-Key"]
    assert pushes[0][0] == pushes[1][0]
    time.sleep(0.3)
    assert len(line_api.requests(REPLY)) == 1  # the spent token is not tried again


def test_push_already_accepted_counts_as_delivered(user, line_api, app):
    line_api.behaviour[REPLY] = lambda b: (400, {"message": "Invalid reply token"})
    line_api.behaviour[PUSH] = lambda b: (409, {"message": "The retry key is already accepted"})
    user.post(user.follow())
    line_api.wait_for(PUSH, 1)
    time.sleep(0.5)
    assert len(line_api.requests(PUSH)) == 1
    assert app.extensions["bot"].store.pending_keys(time.time() + 3600) == []


def test_events_of_one_webhook_are_answered_in_timestamp_order(make_app, line_api):
    app = make_app()
    user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
    user.post(user.follow())
    first = line_api.wait_for(REPLY, 1)[0][0]
    t = user.clock
    answer_who = user.tap(data_for(first, "自分"), ts=t + 1000)
    answer_what = user.text("つきまとい", ts=t + 2000)
    assert user.post(answer_what, answer_who).status_code == 200  # the later event first
    bodies = [b for b, _ in line_api.wait_for(REPLY, 3)]
    assert bodies[1]["replyToken"] == answer_who["replyToken"]
    assert [message_text(m) for m in bodies[1]["messages"]] == [WHAT]
    assert [message_text(m) for m in bodies[2]["messages"]] == ["ありがとうございました。"]


def test_events_stored_out_of_order_are_answered_in_timestamp_order(make_app, line_api):
    """Deterministic: the events wait in the inbox, in reverse arrival, before any worker runs."""
    app = make_app(DISPATCH_THREADS=0)
    user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
    events = [user.follow(), user.text("自分"), user.text("つきまとい"), user.text("戻る"),
              user.text("悪口")]
    for ev in reversed(events):  # the latest arrives first
        assert user.post(ev).status_code == 200
    dispatcher = app.extensions["bot"].dispatcher
    dispatcher.threads = 4  # now four workers compete for the one conversation
    dispatcher.start()
    bodies = [b for b, _ in line_api.wait_for(REPLY, 5, timeout=15)]
    assert [b["replyToken"] for b in bodies] == [e["replyToken"] for e in events]
    conv = app.extensions["bot"].store.load(f"line:{user.user_id}")
    assert conv.state == "done" and conv.answers == {"audience": "self", "topic": "defamation"}


def test_acknowledged_event_survives_a_crash_before_processing(make_app, line_api):
    dead = make_app(DISPATCH_THREADS=0)  # acknowledges, then "dies" before any worker ran
    user = LineUser(dead.test_client(), dead.config["LINE_CHANNEL_SECRET"])
    assert user.post(user.follow()).status_code == 200
    time.sleep(0.3)
    assert line_api.sent_count() == 0
    revived = make_app()
    revived.extensions["bot"].dispatcher.start()
    body = line_api.wait_for(REPLY, 1)[0][0]
    assert [message_text(m) for m in body["messages"]] == [GREETING, WHO]


def test_restart_mid_conversation_continues_where_it_was(make_app, line_api):
    first_app = make_app()
    user = LineUser(first_app.test_client(), first_app.config["LINE_CHANNEL_SECRET"])
    user.post(user.follow())
    user.post(user.text("自分"))
    line_api.wait_for(REPLY, 2)
    first_app.extensions["bot"].dispatcher.stop()
    second_app = make_app()
    user.client = second_app.test_client()
    user.post(user.text("つきまとい"))
    body = line_api.wait_for(REPLY, 3)[2][0]
    assert [message_text(m) for m in body["messages"]] == ["ありがとうございました。"]


def test_time_is_the_event_timestamp_not_the_server_clock(user, line_api):
    user.post(user.follow())
    user.post(user.text("自分"))
    line_api.wait_for(REPLY, 2)
    user.clock += 25 * 3600 * 1000  # the next message was written a day later
    user.post(user.text("こんにちは"))
    body = line_api.wait_for(REPLY, 3)[2][0]
    assert [message_text(m) for m in body["messages"]] == ["おかえりなさい。", WHO]


def test_unfollow_deletes_what_was_stored(app, user, line_api):
    user.post(user.follow())
    user.post(user.text("自分"))
    line_api.wait_for(REPLY, 2)
    store = app.extensions["bot"].store
    assert store.load(f"line:{user.user_id}").answers == {"audience": "self"}
    user.post(user.event("unfollow", reply_token=None))
    deadline = time.time() + 5
    while store.load(f"line:{user.user_id}") is not None and time.time() < deadline:
        time.sleep(0.05)
    assert store.load(f"line:{user.user_id}") is None
    assert len(line_api.requests(REPLY)) == 2


def test_without_line_settings_the_app_starts_and_callback_says_503(tmp_path, test_flows,
                                                                     monkeypatch, caplog):
    monkeypatch.delenv("LINE_CHANNEL_SECRET", raising=False)
    monkeypatch.delenv("LINE_CHANNEL_ACCESS_TOKEN", raising=False)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                      "FLOWS_DIR": str(test_flows)})
    resp = app.test_client().post("/callback", data=b"{}", headers={"X-Line-Signature": "x"})
    assert resp.status_code == 503
    assert "LINE_CHANNEL_SECRET" in caplog.text


def test_a_failing_event_is_logged_without_the_persons_words(app, user, line_api, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    secret = "だれにも言えない悩みです"
    services = app.extensions["bot"]

    def broken(*args, **kwargs):
        raise ValueError(f"could not store {secret}")  # as a driver error might quote a value

    monkeypatch.setattr(Turn, "decide", broken)
    follow = user.follow()
    user.post(follow)
    user.post(user.text(secret))
    failed = f"event {follow['webhookEventId']} failed: ValueError (message withheld)"
    assert wait_until(lambda: failed in caplog.text)  # after the fallback failed too
    assert "ValueError (message withheld)" in caplog.text
    assert failed in caplog.text
    assert secret not in caplog.text


def test_many_answers_at_once_each_keep_a_connection_to_the_api(make_app, line_api, caplog):
    """Every worker thread may be waiting for LINE at once. Each keeps its connection open:
    with fewer kept, each answer beyond them would open a new one (a TLS handshake with the
    real API) and throw it away. More threads than the SDK's own default pool (5 per CPU)."""
    threads = 5 * (os.cpu_count() or 1) + 8
    app = make_app(WORKER_THREADS=threads, DISPATCH_THREADS=0)
    channel = app.extensions["bot"].channels["line"]
    line_api.delay[PUSH] = 1.0  # long enough for every push to be in flight at once
    key = ConvKey.parse("line:U" + "1" * 32)
    pushes = [threading.Thread(target=channel.push,
                               args=(key, [{"type": "text", "text": "届いています"}],
                                     retry_key("pool", i)))
              for i in range(threads)]
    for push in pushes:
        push.start()
    for push in pushes:
        push.join(30)
    assert line_api.most_in_flight[PUSH] == threads
    assert len(line_api.delivered()) == threads
    assert "pool is full" not in caplog.text
