"""Workers wake when events arrive, without waiting for the poll: in-process and across processes."""
from __future__ import annotations

import time

from bot.channels.line import parse_events
from bot.channels.line.translate import translate
from bot.store import Store

from ..conftest import SECRET, fresh_postgres
from ..helpers import wait_until
from ..line_fake import REPLY, LineUser

POLL = 30.0  # far longer than any wait below: an answer in time was not found by polling


def stored_elsewhere(store: Store, user: LineUser, ev: dict) -> None:
    """Store an event as the webhook of another process whose workers are all busy would."""
    [queued] = [translate(e) for e in parse_events(user.body(ev).encode())]
    assert store.enqueue([queued], notify=True) == [ev["webhookEventId"]]


def test_an_event_stored_by_another_process_wakes_this_ones_worker(make_app, line_api):
    database = fresh_postgres()
    app = make_app(DATABASE_URL=database, DISPATCH_THREADS=1, DISPATCH_POLL_SECONDS=POLL)
    dispatcher = app.extensions["bot"].dispatcher
    app.extensions["bot"].start()
    assert wait_until(lambda: not dispatcher.busy(), timeout=10)  # its first scan is over
    other = Store(database, upgrade=False)  # another process's store: its own token
    user = LineUser(app.test_client(), SECRET)
    ev = user.follow()
    stored_elsewhere(other, user, ev)
    [(body, _)] = line_api.wait_for(REPLY, 1, timeout=10)  # well before the next poll
    assert body["replyToken"] == ev["replyToken"]
    other.engine.dispose()


def test_an_event_stored_here_wakes_a_worker_without_the_poll(make_app, line_api, database):
    app = make_app(DATABASE_URL=database, DISPATCH_THREADS=1, DISPATCH_POLL_SECONDS=POLL)
    dispatcher = app.extensions["bot"].dispatcher
    app.extensions["bot"].start()
    assert wait_until(lambda: not dispatcher.busy(), timeout=10)
    user = LineUser(app.test_client(), SECRET)
    ev = user.follow()
    assert user.post(ev).status_code == 200
    [(body, _)] = line_api.wait_for(REPLY, 1, timeout=10)
    assert body["replyToken"] == ev["replyToken"]


def test_standby_leaves_a_backlog_to_a_live_worker_and_takes_over_without_one(
        make_app, line_api, database):
    """The Procfile's web process does not compete with a worker that is merely behind
    (its CPU is for acknowledging); with no worker alive it answers what has waited."""
    app = make_app(DATABASE_URL=database, DISPATCH_THREADS=1, DISPATCH_POLL_SECONDS=0.2,
                   DISPATCH_MODE="standby", DISPATCH_STANDBY_SECONDS=1.0)
    services = app.extensions["bot"]
    store = services.store
    store.worker_seen("elsewhere:1", time.time(), 0)  # a worker process, alive and busy
    services.start()
    user = LineUser(app.test_client(), SECRET)
    ev = user.follow()
    assert user.post(ev).status_code == 200
    deadline = time.time() + 2.5
    while time.time() < deadline:  # past the standby delay, several polls
        store.worker_seen("elsewhere:1", time.time(), 0)
        time.sleep(0.2)
    assert line_api.requests(REPLY) == []
    store.worker_gone("elsewhere:1")  # the worker stopped
    [(body, _)] = line_api.wait_for(REPLY, 1, timeout=10)
    assert body["replyToken"] == ev["replyToken"]
