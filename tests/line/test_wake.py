"""Workers wake when events arrive, without waiting for the poll: in-process and across processes."""
from __future__ import annotations

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
