"""What one event costs the database, counted (never timed) through the real webhook.

From the signed POST to the recorded reply: storing the event, the decision with
its transcript and "sending", and "done". Counted with SQLAlchemy's events on the
app's own engine: each statement it executes (`before_cursor_execute`) and each
commit. Transaction control (BEGIN, COMMIT) is not a statement here, on either
database: psycopg sends BEGIN by itself, and SQLite's BEGIN goes straight to the
driver (`bot.store._sqlite_begin`).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.default import NO_CACHE_KEY

from bot.store import Store

from ..conftest import SECRET
from ..helpers import wait_until
from ..line_fake import REPLY, LineUser
from .test_webhook import data_for

MAX_STATEMENTS, MAX_COMMITS = 6, 3


class Counter:
    """Statements and commits on one engine."""

    def __init__(self, engine: Any):
        self.statements: list[str] = []
        self.uncacheable: list[str] = []  # statements SQLAlchemy must compile every time
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any,
                   _many: bool) -> None:
        self.statements.append(statement.split(None, 1)[0])
        if context.cache_hit == NO_CACHE_KEY:
            self.uncacheable.append(statement)

    def _commit(self, _conn: Any) -> None:
        self.commits += 1

    def take(self) -> tuple[list[str], int]:
        """What was counted since the last take."""
        counted = (self.statements, self.commits)
        self.statements, self.commits = [], 0
        return counted


def test_a_handled_event_costs_at_most_three_commits_and_six_statements(make_app, line_api,
                                                                          database):
    # One worker, no poll and no lease renewal during the test: what is counted is the
    # event's own path (webhook -> worker woken -> decided and "sending" -> sent -> done).
    app = make_app(DATABASE_URL=database, DISPATCH_THREADS=1, DISPATCH_POLL_SECONDS=600,
                   DISPATCH_LEASE_SECONDS=600)
    dispatcher = app.extensions["bot"].dispatcher
    observer = Store(database, upgrade=False)  # looks on its own engine, not counted
    a = LineUser(app.test_client(), SECRET, user_id="U" + "a" * 32)
    b = LineUser(app.test_client(), SECRET, user_id="U" + "b" * 32)
    counter = Counter(app.extensions["bot"].store.engine)
    replies = 0

    def handle(user: LineUser, ev: dict) -> tuple[list[str], int]:
        nonlocal replies
        assert user.post(ev).status_code == 200
        replies += 1
        body = line_api.wait_for(REPLY, replies)[-1][0]
        assert body["replyToken"] == ev["replyToken"]
        assert wait_until(lambda: observer.finished(ev["webhookEventId"]), timeout=10)
        assert wait_until(lambda: not dispatcher.busy(), timeout=10)  # the worker waits again
        return counter.take()

    handle(a, a.follow())  # the worker's first pass (its start-up chores) is not counted
    first = line_api.requests(REPLY)[0][0]
    costs = [handle(a, a.tap(data_for(first, "自分"))), handle(a, a.text("つきまとい")),
             handle(b, b.follow())]
    b_first = line_api.requests(REPLY)[-1][0]
    costs += [handle(b, b.tap(data_for(b_first, "友人・家族"))), handle(b, b.text("悪口"))]
    # Compiled once per process: a statement without a cache key is compiled for every event.
    assert counter.uncacheable == []
    for statements, commits in costs:
        assert len(statements) <= MAX_STATEMENTS and commits <= MAX_COMMITS, costs
    observer.engine.dispose()


def test_writing_again_while_the_answer_is_on_its_way_costs_no_busy_waiting(make_app, line_api,
                                                                           database):
    """A person often writes again before the answer has reached them. While that answer
    waits for LINE, the second message waits for it without costing turn after turn: a
    thread that finds the conversation in another thread's hands leaves it to that thread."""
    app = make_app(DATABASE_URL=database, DISPATCH_THREADS=2, DISPATCH_POLL_SECONDS=600,
                   DISPATCH_LEASE_SECONDS=600)
    user = LineUser(app.test_client(), SECRET)
    first = user.follow()
    assert user.post(first).status_code == 200
    line_api.wait_for(REPLY, 1)
    counter = Counter(app.extensions["bot"].store.engine)
    line_api.delay[REPLY] = 2.0
    slow, then = user.text("自分"), user.text("つきまとい")
    assert user.post(slow).status_code == 200
    line_api.wait_for(REPLY, 2)  # on its way, for two seconds
    assert user.post(then).status_code == 200  # wakes the other thread at once
    replies = line_api.wait_for(REPLY, 3, timeout=15)
    assert [b["replyToken"] for b, _ in replies][1:] == [slow["replyToken"], then["replyToken"]]
    statements, _ = counter.take()
    # Two events stored, decided and finished, and a look or two at the conversation: not
    # a turn every few milliseconds for two seconds.
    assert len(statements) <= 4 * MAX_STATEMENTS, statements
