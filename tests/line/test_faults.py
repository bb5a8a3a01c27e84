"""Faults on the way out: outages, 429s, hangs, crashes mid-send, poison events, lost leases.

The fake API takes a reply token once and a retry key once, as LINE does; what it
`accepted` is what the person received, so "doubled" and "lost" are measured there.
"""
from __future__ import annotations

import time

import pytest
from sqlalchemy.exc import OperationalError

from bot.channels.line.plain import message_text
from bot.store.schema import inbox

from ..helpers import wait_until
from ..line_fake import PUSH, REPLY, LineUser

GREETING = "テスト用のあいさつです。"


def person(app) -> LineUser:
    return LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])


def answers_for(line_api, event: dict) -> list[dict]:
    """Requests LINE took that answer this event: its reply, or pushes after it."""
    return [b for b in line_api.delivered() if b.get("replyToken") == event["replyToken"]
            or "to" in b]


def failing(times: int, status: int = 500, headers: dict | None = None):
    """A behaviour that fails `times` times, then answers like LINE."""
    left = [times]

    def answer(body: dict) -> tuple:
        if left[0] > 0:
            left[0] -= 1
            return (status, {"message": "down"}, headers or {})
        return (200, {"sentMessages": [{"id": "1"}]})
    return answer


def test_an_outage_longer_than_six_tries_still_delivers_once(make_app, line_api):
    """Before: after 6 attempts (about 62 s) the event was marked failed, for good."""
    app = make_app(RETRY_MAX_SECONDS=0.05)
    line_api.behaviour[REPLY] = failing(3)
    line_api.behaviour[PUSH] = failing(8)
    user = person(app)
    follow = user.follow()
    app.extensions["bot"].dispatcher.threads = 0  # no worker yet: take the token's age out of play
    user.post(follow)
    with app.extensions["bot"].store.engine.begin() as conn:  # arrived a minute ago
        conn.execute(inbox.update().values(received_at=time.time() - 60))
    app.extensions["bot"].dispatcher.threads = 2
    app.extensions["bot"].dispatcher.start()
    assert wait_until(lambda: line_api.delivered(), timeout=20)
    time.sleep(0.5)
    delivered = line_api.delivered()
    assert len(delivered) == 1 and message_text(delivered[0]["messages"][0]) == GREETING
    assert len(line_api.requests(PUSH)) == 9  # 8 failures, then once; one retry key
    assert len({h["X-Line-Retry-Key"] for _, h in line_api.requests(PUSH)}) == 1


def test_retry_after_on_429_is_honoured(make_app, line_api):
    app = make_app(RETRY_MAX_SECONDS=0.05)
    line_api.behaviour[REPLY] = failing(1, 429, {"Retry-After": "2"})
    user = person(app)
    user.post(user.follow())
    first = line_api.wait_for(REPLY, 1)
    started = time.time()
    line_api.wait_for(REPLY, 2, timeout=10)
    assert time.time() - started >= 1.8  # not the 0.05 s backoff: LINE asked for 2 s
    assert wait_until(lambda: line_api.delivered()) and first
    assert len(line_api.delivered()) == 1


def delivered_once_by_reply(app, line_api, event: dict) -> None:
    """Once the retries have settled: LINE took one answer, no push, the event is done."""
    time.sleep(2.5)
    assert len(line_api.delivered()) == 1  # the person got it once
    assert line_api.requests(PUSH) == []
    store = app.extensions["bot"].store
    assert wait_until(lambda: store.finished(event["webhookEventId"]), timeout=10)


def test_a_slow_success_is_not_sent_again(make_app, line_api):
    """Before: a 15 s hang with a 10 s timeout was taken as a failure and pushed again."""
    app = make_app(LINE_API_TIMEOUT=1.0, RETRY_MAX_SECONDS=0.05)
    line_api.delay[REPLY] = 2.0  # LINE takes the reply, but answers after our timeout
    user = person(app)
    follow = user.follow()
    user.post(follow)
    line_api.wait_for(REPLY, 1)
    line_api.delay[REPLY] = 0  # the hang ends
    line_api.wait_for(REPLY, 2, timeout=15)  # the retry, by reply with the same token
    delivered_once_by_reply(app, line_api, follow)


def test_an_unknown_outcome_stays_unknown_through_a_failed_retry(make_app, line_api):
    """Before: the retry's 500 recorded the event as merely "decided", so the third try
    took LINE's "reply token used" for a refusal and pushed: the person got it twice.
    (The fault run found it: a worker killed mid-reply, then the API down.)"""
    app = make_app(LINE_API_TIMEOUT=1.0, RETRY_MAX_SECONDS=0.05)
    calls = []

    def line(body: dict) -> tuple:
        calls.append(body)
        if len(calls) == 1:  # LINE takes the reply, but answers after our timeout
            time.sleep(1.3)
        elif len(calls) == 2:  # the retry meets an outage, once the first was taken
            time.sleep(0.5)
            return (500, {"message": "down"})
        return (200, {"sentMessages": [{"id": "1"}]})

    line_api.behaviour[REPLY] = line
    user = person(app)
    follow = user.follow()
    user.post(follow)
    line_api.wait_for(REPLY, 3, timeout=15)  # the retry, then one more after the outage
    delivered_once_by_reply(app, line_api, follow)


def crashed_mid_send(app, user, event: dict, *, age: float, safety: bool = False) -> None:
    """Leave `event` as a worker killed during its send leaves it: 'sending', lease expired."""
    services = app.extensions["bot"]
    services.dispatcher.threads = 0  # the worker that will die is us
    user.post(event)
    store = services.store
    key = f"line:{user.user_id}"
    assert store.acquire(key, "dead-worker", 0.01, time.time())
    ev = store.next_event(key, time.time() + 1)
    outbound = {"batches": [[{"type": "text", "text": GREETING}]]}
    store.decide(ev, "dead-worker", None, outbound, safety=safety)
    store.sending(ev, "dead-worker", time.time())
    with store.engine.begin() as conn:
        conn.execute(inbox.update().values(received_at=time.time() - age,
                                           sending_at=time.time() - age + 1))
    services.dispatcher.threads = 2


def test_after_a_crash_mid_reply_a_used_token_means_delivered(make_app, line_api):
    app = make_app()
    user = person(app)
    follow = user.follow()
    line_api.behaviour[REPLY] = lambda b: (200, {})
    crashed_mid_send(app, user, follow, age=5)
    line_api.accepted.append((REPLY, {"replyToken": follow["replyToken"]}, {}))  # it did arrive
    line_api._used.add(follow["replyToken"])
    app.extensions["bot"].dispatcher.start()
    assert wait_until(lambda: app.extensions["bot"].store.finished(follow["webhookEventId"]),
                      timeout=10)
    assert line_api.requests(PUSH) == []  # not pushed again: the token told us
    assert len(line_api.delivered()) == 1


@pytest.mark.parametrize("safety, pushed", [(True, 1), (False, 0)])
def test_an_unknown_outcome_past_the_tokens_life(make_app, line_api, safety, pushed):
    """Safety answers are at-least-once there; other answers are not resent."""
    app = make_app()
    user = person(app)
    follow = user.follow()
    crashed_mid_send(app, user, follow, age=120, safety=safety)
    app.extensions["bot"].dispatcher.start()
    assert wait_until(lambda: app.extensions["bot"].store.finished(follow["webhookEventId"]),
                      timeout=10)
    assert len(line_api.requests(PUSH)) == pushed and line_api.requests(REPLY) == []


def test_a_poison_event_gets_the_fallback_at_once_and_blocks_nothing(make_app, line_api,
                                                                     monkeypatch):
    app = make_app()
    engine = app.extensions["bot"].engine
    real = engine.handle

    def broken(conv, inbound, desk=None):
        if inbound.text == "壊れる":
            raise RuntimeError("a bug")
        return real(conv, inbound, desk)

    monkeypatch.setattr(engine, "handle", broken)
    user = person(app)
    user.post(user.follow())
    line_api.wait_for(REPLY, 1)
    started = time.time()
    user.post(user.text("壊れる"))
    fallback = [message_text(m) for m in line_api.wait_for(REPLY, 2, timeout=5)[1][0]["messages"]]
    assert time.time() - started < 3  # not after 62 s of retries
    assert fallback[0].startswith("申し訳ありません")
    assert any("110" in t for t in fallback)  # the emergency window
    assert any("いのちの電話" in t or "よりそいホットライン" in t or "こころ" in t for t in fallback[1:])
    user.post(user.text("自分"))
    assert [message_text(m) for m in line_api.wait_for(REPLY, 3)[2][0]["messages"]] == ["何がありましたか？"]


def test_a_crash_mid_decision_leaves_no_duplicate_rows(make_app, line_api, monkeypatch):
    """Before: handoff rows, audit and Slack were written outside the decision, twice on retry."""
    from bot import config

    app = make_app(FLOWS_DIR=config.DEFAULTS["FLOWS_DIR"], RETRY_MAX_SECONDS=0.05)
    desk = app.extensions["bot"].desk
    real, calls = desk.record_turn, []

    def flaky(conn, key, inbound, outcome, handoff):
        real(conn, key, inbound, outcome, handoff)
        calls.append(1)
        if len(calls) == 3:  # the handoff request's turn: the database goes away once
            raise OperationalError("INSERT", {}, Exception("connection lost"))

    monkeypatch.setattr(desk, "record_turn", flaky)
    user = person(app)
    user.post(user.follow())
    line_api.wait_for(REPLY, 1)
    user.post(user.text("人と話したい"))
    line_api.wait_for(REPLY, 2)
    confirm = line_api.requests(REPLY)[1][0]["messages"][-1]["quickReply"]["items"][0]["action"]
    user.post(user.tap(confirm["data"]))
    line_api.wait_for(REPLY, 3, timeout=10)
    store = app.extensions["bot"].store
    key = f"line:{user.user_id}"
    assert len(store.handoffs.queue()) == 1
    assert [r.action for r in store.handoffs.audit_log()].count("requested") == 1
    texts = [l.text for l in store.handoffs.transcript(key)]
    assert len(texts) == len(set(texts)) or texts.count(texts[-1]) == 1
    assert store.outbox.pending() <= 1  # one announcement queued (no Slack configured)


def test_a_return_waits_for_the_lease_and_never_overwrites(bot_app, line_api):
    app, handoff = bot_app
    store, desk = app.extensions["bot"].store, app.extensions["bot"].desk
    assert store.acquire(handoff.conv_key, "busy-worker", 30, time.time())  # a reply in flight
    assert "try again" in desk.finish(handoff, "alice", "returned")
    assert store.handoffs.get(handoff.id).status == "claimed"  # nothing changed
    store.release(handoff.conv_key, "busy-worker")
    assert desk.finish(handoff, "alice", "returned") is None
    assert store.handoffs.get(handoff.id).status == "returned"
    assert store.load(handoff.conv_key).state == "who"  # the test flow's first question


@pytest.fixture
def bot_app(make_app, line_api):
    from werkzeug.security import generate_password_hash

    app = make_app()
    store = app.extensions["bot"].store
    store.operators.create("alice", generate_password_hash("x" * 12))
    user = person(app)
    user.post(user.follow())
    line_api.wait_for(REPLY, 1)
    handoff, _ = store.handoffs.request(f"line:{user.user_id}", 0)
    assert app.extensions["bot"].desk.claim(handoff, "alice") == "claimed"
    return app, store.handoffs.get(handoff.id)


def test_a_write_lock_that_cannot_be_taken_delays_the_answer_not_replaces_it(make_app, line_api,
                                                                            monkeypatch):
    """SQLite's write lock could not be taken once (its file unwritable for a moment, or the
    database locked past its timeout): the person gets their real answer when it can be,
    never the apology meant for messages that can never be handled."""
    from bot.store import WriterLock

    app = make_app()
    user = person(app)
    follow = user.follow()
    user.post(follow)
    line_api.wait_for(REPLY, 1)
    assert wait_until(lambda: app.extensions["bot"].store.finished(follow["webhookEventId"]),
                      timeout=10)
    real, failures = WriterLock.__enter__, []  # next: the turn's lock for the message below

    def once_unavailable(self):
        if not failures:
            failures.append(1)
            raise OSError(28, "No space left on device")
        return real(self)

    monkeypatch.setattr(WriterLock, "__enter__", once_unavailable)
    user.post(user.text("自分"))
    answer = [message_text(m) for m in line_api.wait_for(REPLY, 2, timeout=10)[1][0]["messages"]]
    assert failures and answer == ["何がありましたか？"]
    time.sleep(0.5)
    assert len(line_api.requests(REPLY)) == 2 and line_api.requests(PUSH) == []
