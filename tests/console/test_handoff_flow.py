"""A person reaches a human and back, through the real webhook and the console."""
from __future__ import annotations

import time
import uuid

from bot.channels.line.plain import message_text

from ..helpers import wait_until
from ..line_fake import PUSH, REPLY
from .conftest import AFTER_HOURS, STAFF_HOURS, Person, claimed, login, post


def test_asking_queues_the_request_and_tells_the_wait(bot, person):
    texts = person.asks_for_staff()
    assert texts[0] == "スタッフにおつなぎします。いまの順番は1番目で、目安はおよそ10分です。このままお待ちください。"
    queue = bot.extensions["bot"].store.handoffs.queue()
    assert [(h.conv_key, h.status, h.priority) for h in queue] == [(person.key, "waiting", 0)]
    assert person.says("まだですか？")[0].startswith("メッセージはスタッフに届いています。いま1番目")


def test_outside_staff_hours_the_request_waits_and_open_windows_are_given(bot, line_api):
    late = Person(bot, line_api, AFTER_HOURS)
    texts = late.asks_for_staff()
    assert texts[0].startswith("いまはスタッフの受付時間外です。次は明日 10:00からです。")
    assert any("［受付中］" in t for t in texts[1:])  # a window's card: open now
    assert bot.extensions["bot"].store.handoffs.queue()[0].status == "waiting"


def test_bot_to_return_cancels_the_request(bot, person):
    person.asks_for_staff()
    texts = person.says("ボットに戻る")
    assert texts[0] == "スタッフへの取り次ぎを取り消しました。ボットの案内に戻ります。"
    assert bot.extensions["bot"].store.handoffs.queue() == []
    assert person.says("18歳以上")[0] == "何がありましたか？近いものを選ぶか、ご自身の言葉で教えてください。"


def test_claimed_conversation_gets_no_bot_message_only_staff_ones(bot, person, line_api):
    person.asks_for_staff()
    alice = login(bot, "alice")
    handoff = bot.extensions["bot"].store.handoffs.queue()[0]
    page = f"/console/c/{handoff.id}"
    assert post(alice, f"{page}/claim", page).status_code == 302
    sent = person.sent()
    for words in ("もしもし", "殺すと言われた", "もう死にたい", "相談窓口"):
        person.line.post(person.line.text(words))
    assert wait_until(lambda: len(bot.extensions["bot"].store.handoffs.transcript(person.key))
                      and "相談窓口" in [l.text for l in bot.extensions["bot"].store.handoffs.transcript(person.key)])
    time.sleep(0.5)
    assert person.sent() == sent  # the bot said nothing
    assert bot.extensions["bot"].store.handoffs.get(handoff.id).priority == 2  # crisis raised it
    resp = post(alice, f"{page}/reply", page, text="スタッフの田中です。お話を聞かせてください。")
    assert resp.status_code == 302
    body, headers = line_api.wait_for(PUSH, 1)[0]
    assert body["to"] == person.line.user_id
    assert body["messages"] == [{"type": "text", "text": "スタッフの田中です。お話を聞かせてください。"}]
    assert uuid.UUID(headers["X-Line-Retry-Key"])


def test_returning_tells_the_person_and_the_bot_starts_again(bot, person, line_api):
    person.asks_for_staff()
    alice, page = claimed(bot)
    post(alice, f"{page}/returned", page)
    texts = [message_text(m) for m in line_api.wait_for(PUSH, 1)[0][0]["messages"]]
    assert texts == ["スタッフとのやり取りが終わりました。ここからは、またボットがご案内します。",
                     "どなたが困っていますか？"]
    assert person.says("自分")[0] == "被害にあっている方は、18歳未満ですか？"


def test_closing_tells_the_person(bot, person, line_api):
    person.asks_for_staff()
    alice, page = claimed(bot)
    post(alice, f"{page}/closed", page)
    assert message_text(line_api.wait_for(PUSH, 1)[0][0]["messages"][0]).startswith(
        "スタッフとのやり取りを終了しました。")
    assert bot.extensions["bot"].store.handoffs.queue() == []


def test_a_failed_staff_reply_is_kept_and_resent_with_the_same_key(bot, person, line_api):
    person.asks_for_staff()
    alice, page = claimed(bot)
    line_api.behaviour[PUSH] = lambda b: (500, {"message": "Internal error"})
    post(alice, f"{page}/reply", page, text="少しお待ちください。")
    store = bot.extensions["bot"].store.handoffs
    failed = [l for l in store.transcript(person.key) if l.direction == "staff"][0]
    assert failed.status == "failed" and "500" in failed.error
    html = alice.get(page).get_data(as_text=True)
    assert "未送信" in html and f"/resend/{failed.id}" in html
    del line_api.behaviour[PUSH]
    post(alice, f"{page}/resend/{failed.id}", page)
    assert store.line(failed.id).status == "sent"
    keys = [h["X-Line-Retry-Key"] for _, h in line_api.requests(PUSH)]
    assert len(keys) == 2 and keys[0] == keys[1] == failed.retry_key


def test_the_person_can_have_everything_deleted(bot, person, line_api):
    person.asks_for_staff()
    store = bot.extensions["bot"].store
    assert store.handoffs.transcript(person.key)
    assert person.says("ボットに戻る")
    assert person.says("データを削除")[0].startswith("これまでのやり取りの記録と答えを、すべて削除します")
    assert person.taps("削除する") == ["記録をすべて削除しました。また話しかけていただければ、はじめからご案内します。"]
    assert wait_until(lambda: store.load(person.key) is None)
    assert store.handoffs.transcript(person.key) == []
    assert store.handoffs.open_for(person.key) is None
    log = store.handoffs.audit_log()
    assert all(r.conv_key != person.key for r in log)
    deleted = [r for r in log if r.action == "deleted"]
    assert len(deleted) == 1 and deleted[0].conv_key.startswith("deleted:")
    assert deleted[0].detail == "at the person's request"


def test_slack_hears_of_new_requests_without_any_message_text(make_app, line_api, tmp_path):
    from pytest_httpserver import HTTPServer
    from bot import config
    from werkzeug import Response

    slack = HTTPServer(host="127.0.0.1", port=0)
    slack.start()
    heard = []
    slack.expect_request("/hook", method="POST").respond_with_handler(
        lambda r: heard.append(r.get_json()) or Response("ok"))
    try:
        app = make_app(FLOWS_DIR=config.DEFAULTS["FLOWS_DIR"], SLACK_WEBHOOK_URL=slack.url_for("/hook"),
                       CONSOLE_BASE_URL="https://bot.example.org")
        someone = Person(app, line_api, STAFF_HOURS)
        someone.line.post(someone.line.follow())
        line_api.wait_for(REPLY, 1)
        someone.says("上司に晒されて悪口を書かれている")
        someone.says("人と話したい")
        someone.taps("切り替える")
        assert wait_until(lambda: heard)
        text = heard[0]["text"]
        hid = app.extensions["bot"].store.handoffs.queue()[0].id
        assert text == ("新しい相談がスタッフを待っています（待ち順 1 番目、優先度: 通常）\n"
                        f"https://bot.example.org/console/c/{hid}")
        someone.says("もう死にたい")
        assert wait_until(lambda: len(heard) == 2)
        assert "優先度: 危機" in heard[1]["text"] and "死にたい" not in heard[1]["text"]
    finally:
        slack.stop()


def test_staff_see_each_safety_detection_and_the_answer_but_never_the_words(bot, person):
    asked = person.says("悪口ばかり書かれてしんどい")
    assert any("死にたいほどつらい気持ちがありますか" in t for t in asked)
    person.taps("いいえ")
    person.asks_for_staff()
    alice, page = claimed(bot)
    html = alice.get(page).get_data(as_text=True)
    assert "危険・危機の検知（2件）" in html
    assert "危機: 可能性（確認の質問をしました）（語句のルール）" in html
    assert "危機: 「いいえ」と答えました" in html
    detections = html[html.index('id="detections"'):html.index("</details>")]
    assert "しんどい" not in detections
