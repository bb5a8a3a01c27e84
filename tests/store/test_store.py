"""The store's contract, run against SQLite and PostgreSQL alike."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

from bot.channels.base import stored_inbound
from bot.engine import ConvState
import pytest

from bot.store import Contended, LeaseLost, QueuedEvent, Store
from bot.store.schema import inbox

T = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)


def queued(event_id: str, key: str = "line:U1", ts: int = 1000, text: str = "こんにちは") -> QueuedEvent:
    return QueuedEvent(event_id, key, ts, stored_inbound("text", ts, text=text), {"reply_token": "r"})


def test_conversation_round_trip(database):
    store = Store(database)
    assert store.load("line:U1") is None
    conv = ConvState("main", "what", {"audience": "self", "flags": ["child"]},
                     [{"state": "who", "answers": {}}], T, {"group_notice_sent": True})
    store.save("line:U1", conv)
    again = Store(database).load("line:U1")  # as after a restart
    assert again == conv


def test_redelivered_event_is_stored_once(database):
    store = Store(database)
    assert store.enqueue([queued("E1"), queued("E1")]) == ["E1"]
    assert store.enqueue([queued("E1"), queued("E2", ts=2000)]) == ["E2"]
    assert store.pending_keys(time.time()) == ["line:U1"]


def enqueue_behind_a_busy_webhook(store, batches, outcomes=None):
    """Hold the webhook's insert slot while threads store `batches`; return what each
    enqueue returned (or raised), by batch, in `outcomes` as the threads answer."""
    outcomes = {} if outcomes is None else outcomes

    def call(i, events):
        try:
            outcomes[i] = store.enqueue(events)
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=call, args=(i, b), daemon=True)
               for i, b in enumerate(batches)]
    with store._enqueuing:
        for t in threads:
            t.start()
        deadline = time.time() + 5
        while len(store._enqueuing._waiting) < len(batches) and time.time() < deadline:
            time.sleep(0.005)
        assert outcomes == {}
    for t in threads:
        t.join(10)
    return outcomes


def test_webhooks_that_arrive_together_are_stored_with_one_commit(database):
    """Each webhook's INSERT had its own transaction: a BEGIN and a COMMIT per event, most
    of the web's database cost. Webhooks arriving while one stores its events are stored
    by the next in one transaction; each is answered only after that commit."""
    from sqlalchemy import event

    store = Store(database)
    answered_at_commit = []
    outcomes = {}  # filled by each webhook's thread as it is answered
    event.listen(store.engine, "commit", lambda conn: answered_at_commit.append(len(outcomes)))
    batches = [[queued(f"E{n}", key=f"line:U{n}")] for n in range(6)] + [[queued("E0")]]
    enqueue_behind_a_busy_webhook(store, batches, outcomes)
    assert outcomes == {**{n: [f"E{n}"] for n in range(6)}, 6: []}  # E0 redelivered: not new
    assert answered_at_commit == [0]  # one commit, and no webhook answered before it
    assert sorted(store.pending_keys(time.time())) == sorted(f"line:U{n}" for n in range(6))


def test_a_webhook_whose_insert_fails_spoils_none_of_the_others(database):
    """The group is rolled back and each webhook stored alone: the bad one's error reaches
    its own request (LINE sends it again), the others are stored and acknowledged."""
    from sqlalchemy.exc import IntegrityError

    store = Store(database)
    bad = queued("bad", key="line:Ubad")
    bad.ts_ms = None  # the database refuses it (NOT NULL), which spoils its transaction
    outcomes = enqueue_behind_a_busy_webhook(
        store, [[queued("E1", key="line:U1")], [bad], [queued("E2", key="line:U2")]])
    assert outcomes[0] == ["E1"] and outcomes[2] == ["E2"]
    assert isinstance(outcomes[1], IntegrityError)
    assert store._enqueuing.failed == 1  # the group was rolled back; each went in alone
    assert sorted(store.pending_keys(time.time())) == ["line:U1", "line:U2"]


def test_events_of_one_webhook_are_taken_in_timestamp_order_at_once(database):
    store = Store(database)
    store.enqueue([queued("late", ts=5000), queued("early", ts=4000)], now=100.0)
    with store.turn("line:U1", "w", 30, now=100.0, reorder=0.5) as turn:
        assert turn.event.event_id == "early" and turn.event.inbound["text"] == "こんにちは"
        assert turn.wait_until is None and turn.more == 1


def test_a_person_whose_events_arrive_out_of_order_waits_for_stragglers(database):
    store = Store(database)
    store.enqueue([queued("newer", ts=5000)], now=100.0)
    store.enqueue([queued("older", ts=4000)], now=100.1)  # stamped earlier, arrived later
    with store.turn("line:U1", "w", 30, now=100.2, reorder=0.5) as turn:
        assert turn.event is None and turn.wait_until == pytest.approx(100.6)
    with store.turn("line:U1", "w", 30, now=100.7, reorder=0.5) as turn:
        assert turn.event.event_id == "older"


def test_an_event_in_order_is_taken_at_once_even_behind_others(database):
    store = Store(database)
    store.enqueue([queued("first", ts=4000)], now=100.0)
    store.enqueue([queued("second", ts=5000)], now=100.1)
    with store.turn("line:U1", "w", 30, now=100.1, reorder=0.5) as turn:
        assert turn.event.event_id == "first" and turn.wait_until is None


def test_finished_event_keeps_no_message_text(database):
    store = Store(database)
    store.enqueue([queued("E1", text="誰にも言えないこと")])
    assert store.acquire("line:U1", "w", 30, time.time())
    ev = store.next_event("line:U1", time.time() + 1)
    store.decide(ev, "w", ConvState("main", "who"), {"batches": [[{"type": "text", "text": "hi"}]]})
    decided = store.next_event("line:U1", time.time() + 1)
    assert decided.status == "decided" and decided.inbound is None
    assert decided.outbound == {"batches": [[{"type": "text", "text": "hi"}]]}
    store.finish(decided, "w")
    assert store.next_event("line:U1", time.time() + 1) is None
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM inbox")]
    assert "誰にも言えないこと" not in repr(rows)
    assert store.enqueue([queued("E1")]) == []  # the id still guards against redelivery
    assert store.purge_inbox(before=time.time() + 1) == 1


def test_failed_attempt_is_retried_later(database):
    store = Store(database)
    store.enqueue([queued("E1")])
    assert store.acquire("line:U1", "w", 30, time.time())
    ev = store.next_event("line:U1", time.time() + 1)
    store.sending(ev, "w", time.time())
    store.retry_later(ev, "w", at=time.time() + 60, error="Messaging API 500")
    assert store.pending_keys(time.time()) == []
    assert store.pending_keys(time.time() + 61) == ["line:U1"]
    again = store.next_event("line:U1", time.time() + 61)
    assert again.attempts == 1 and again.status == "pending"


def test_writes_need_the_lease(database):
    store = Store(database)
    store.enqueue([queued("E1")])
    assert store.acquire("line:U1", "a", 30, now=1000.0)
    ev = store.next_event("line:U1", time.time() + 1)
    assert store.acquire("line:U1", "b", 30, now=1031.0)  # a stalled; its lease ran out
    for write in (lambda: store.decide(ev, "a", ConvState("main", "who"), None),
                  lambda: store.sending(ev, "a", time.time()),
                  lambda: store.finish(ev, "a"),
                  lambda: store.retry_later(ev, "a", time.time(), "x")):
        with pytest.raises(LeaseLost):
            write()
    assert store.next_event("line:U1", time.time() + 1).status == "pending"  # nothing written
    store.decide(ev, "b", ConvState("main", "who"), None)
    assert store.load("line:U1").state == "who"


def test_lease_admits_one_owner_until_it_expires(database):
    store = Store(database)
    store.enqueue([queued("E1")])
    assert store.acquire("line:U1", "a", 30, now=1000.0)
    assert not store.acquire("line:U1", "b", 30, now=1010.0)
    assert store.acquire("line:U1", "b", 30, now=1031.0)  # a died; its lease ran out
    store.release("line:U1", "a")  # a late release by the old owner changes nothing
    assert not store.acquire("line:U1", "a", 30, now=1032.0)
    store.release("line:U1", "b")
    assert store.acquire("line:U1", "a", 30, now=1033.0)


def test_lease_under_contention_has_one_winner(database):
    store = Store(database)
    store.enqueue([queued("E1")])
    winners = []
    barrier = threading.Barrier(8)

    def grab(name: str) -> None:
        barrier.wait()
        if store.acquire("line:U1", name, 30, now=time.time()):
            winners.append(name)

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_forget_deletes_the_conversation(database):
    store = Store(database)
    store.save("line:U1", ConvState("main", "what", {"audience": "self"}, last_active=T))
    store.forget("line:U1")
    assert store.load("line:U1") is None


def test_idle_time_survives_storage(database):
    store = Store(database)
    store.save("line:U1", ConvState("main", "what", last_active=T + timedelta(minutes=5)))
    assert store.load("line:U1").last_active == T + timedelta(minutes=5)


def test_database_errors_do_not_quote_what_was_stored(database):
    store = Store(database)
    store.enqueue([queued("E1", text="誰にも言えない秘密")])
    try:
        with store.engine.begin() as conn:  # a second row with the same event id
            conn.execute(inbox.insert().values(event_id="E1", conv_key="k", ts_ms=1, received_at=0,
                                               status="pending", inbound={"text": "誰にも言えない秘密"},
                                               attempts=0, next_try_at=0))
    except Exception as exc:  # noqa: BLE001 - whatever the driver raises
        assert "誰にも言えない秘密" not in str(exc)
    else:
        raise AssertionError("the duplicate insert should have failed")


def test_a_turn_works_on_a_connection_tested_after_idling(database, monkeypatch):
    """A connection idle a while is tested with SELECT 1 before use. On PostgreSQL that
    test left a transaction open, and the next turn could not set its isolation level:
    the first event after a quiet spell failed and waited for the next poll."""
    import bot.store

    store = Store(database)
    store.enqueue([queued("E1")])
    with store.engine.connect():
        pass  # one pooled connection, idle from now
    monkeypatch.setattr(bot.store, "IDLE_PING", 0.0)  # every checkout tests it
    with store.turn("line:U1", "w1", 30.0, time.time()) as t:
        assert t.event is not None and t.event.event_id == "E1"
        t.finish("done")
    assert store.finished("E1")


def test_only_events_waiting_long_enough_are_offered_to_standby(database):
    store = Store(database)
    now = time.time()
    store.enqueue([queued("E1")], now=now - 10)
    store.enqueue([queued("E2", key="line:U2")], now=now)
    assert store.pending_keys(now) == ["line:U1", "line:U2"]
    assert store.pending_keys(now, waited=5.0) == ["line:U1"]


def test_sqlite_writers_of_separate_processes_take_turns(tmp_path):
    """The web and worker processes queue on one lock instead of SQLite's sleeping retries;
    a forked process opens its own handle, or the lock would not exclude it."""
    import os

    from bot.store import WriterLock

    lock = WriterLock(str(tmp_path / "bot.sqlite3"))
    with lock:
        pass  # this process opened its handle before the fork
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # hold the lock for a while
        try:
            with lock:
                os.write(write_end, b"x")
                time.sleep(0.5)
        finally:
            os._exit(0)
    try:
        assert os.read(read_end, 1) == b"x"
        started = time.monotonic()
        with lock:
            waited = time.monotonic() - started
        assert waited >= 0.3  # it waited for the other process's writer
    finally:
        os.waitpid(pid, 0)


def test_new_events_are_stored_while_a_turn_decides(database):
    """Deciding (the engine, the classifier) takes the longest part of a turn. The
    webhook's insert used to wait for all of it on SQLite, so acknowledging LINE slowed
    to the pace of the workers' decisions; now a turn takes the write lock only to write."""
    store = Store(database)
    store.enqueue([queued("E1")])
    with store.turn("line:U1", "w1", 30.0, time.time()) as t:
        assert t.event is not None  # read; the decision would be made here
        stored: list[list[str]] = []
        webhook = threading.Thread(target=lambda: stored.append(
            store.enqueue([queued("E2", key="line:U2")])))
        webhook.start()
        webhook.join(timeout=5)
        assert stored == [["E2"]], "the webhook waited for the turn's decision"
        t.finish("done")
    assert store.finished("E1") and store.pending_keys(time.time()) == ["line:U2"]


@pytest.mark.parametrize("forget", [False, True], ids=["answer", "deletion"])
def test_a_turn_writes_nothing_if_staff_took_the_conversation_while_it_decided(database, forget):
    """Staff claimed the person (taking the conversation's lease and giving it back) after
    a turn read it and before the turn wrote its decision. The decision was made on what
    is no longer true (the bot would answer over the operator): nothing of it is kept,
    and the event is taken again, as it now stands."""
    store = Store(database)
    store.save("line:U1", ConvState("main", "before", {}, [], T, {}))
    store.enqueue([queued("E1")])
    with pytest.raises(Contended), store.turn("line:U1", "w1", 30.0, time.time()) as t:
        assert t.event is not None
        assert store.acquire("line:U1", "console:op", 30.0, time.time())  # the claim's lease
        store.release("line:U1", "console:op")
        conv = ConvState("main", "decided", {}, [], T, {})
        t.decide(None if forget else conv, {"batches": [["reply"]]}, send=True,
                 now=time.time(), forget=forget)
    assert store.load("line:U1").state == "before"  # neither answered nor deleted
    with store.turn("line:U1", "w2", 30.0, time.time()) as again:
        assert again.event is not None and again.event.event_id == "E1"
        assert again.event.status == "pending"


def test_a_slow_decision_still_leaves_the_whole_lease_for_the_send(database):
    """The lease runs from the turn's write, not from its start: a decision that took long
    (or waited for SQLite's write lock) leaves the answer's send the whole lease, and no
    other worker takes the conversation and sends it again meanwhile."""
    store = Store(database)
    store.enqueue([queued("E1")])
    began = time.time() - 5.0  # the turn's read was five seconds ago
    with store.turn("line:U1", "w1", 3.0, began) as t:
        assert t.event is not None
        t.decide(ConvState("main", "decided", {}, [], T, {}), {"batches": [["reply"]]},
                 send=True, now=time.time())
    with store.turn("line:U1", "w2", 3.0, time.time()) as other:
        assert other.event is None and other.held  # still w1's, its answer on the way


def test_a_turn_that_holds_the_lease_is_not_refused_for_its_own_renewal(database):
    """A worker carries on with a person's next event under the lease it holds; its own
    heartbeat may renew that lease between the turn's read and its write. (PostgreSQL's
    REPEATABLE READ refuses a write to any row changed since the read, whoever changed it:
    there the turn is taken again, which only SQLite's own check can avoid.)"""
    if database.startswith("postgresql"):
        pytest.skip("PostgreSQL refuses it by isolation; the turn is retried (Contended)")
    store = Store(database)
    store.enqueue([queued("E1"), queued("E2", ts=2000)])
    with store.turn("line:U1", "w1", 30.0, time.time()) as t:
        t.finish("done")
    with store.turn("line:U1", "w1", 30.0, time.time()) as t:
        assert t.event is not None and t.event.event_id == "E2"
        assert store.renew("line:U1", "w1", 30.0, time.time() + 1)  # the heartbeat
        t.finish("done")
    assert store.finished("E2")


def test_sqlite_workers_step_aside_for_webhooks_waiting_to_write(tmp_path, monkeypatch):
    """A burst of webhooks is acknowledged at the pace of its own inserts: while one waits
    to write (here: another process says so), a worker's write steps aside, but only for a
    bounded while, so that the workers are never starved."""
    import fcntl
    import os

    import bot.store
    from bot.store import WriterLock

    STEP_ASIDE = 0.5  # longer than the 50 ms in use, so that a busy machine cannot blur it
    monkeypatch.setattr(bot.store, "STEP_ASIDE", STEP_ASIDE)
    lock = WriterLock(str(tmp_path / "bot.sqlite3"))
    started = time.monotonic()
    with lock:
        pass
    assert time.monotonic() - started < STEP_ASIDE  # nobody waits: at once

    waiting = os.open(str(tmp_path / "bot.sqlite3.writer-urgent"), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(waiting, fcntl.LOCK_SH)  # a webhook of another process waits
        started = time.monotonic()
        with lock:
            stepped = time.monotonic() - started
        assert STEP_ASIDE * 0.9 <= stepped < 3.0
    finally:
        os.close(waiting)


def test_a_waiting_webhook_writes_before_a_worker_that_came_after_it(tmp_path, monkeypatch):
    """Three processes' locks on one database (each its own handles and thread lock): a
    webhook waits while another write is in progress, then a worker comes; the webhook
    goes first."""
    import bot.store
    from bot.store import WriterLock

    monkeypatch.setattr(bot.store, "STEP_ASIDE", 5.0)  # the worker waits as long as needed
    database = str(tmp_path / "bot.sqlite3")
    writing, web, work = (WriterLock(database) for _ in range(3))
    order: list[str] = []

    def webhook() -> None:
        with web.urgent():
            order.append("webhook")

    def worker() -> None:
        with work:
            order.append("worker")

    with writing:  # a write in progress; the webhook queues, then a worker
        first = threading.Thread(target=webhook)
        first.start()
        time.sleep(0.05)
        second = threading.Thread(target=worker)
        second.start()
        time.sleep(0.2)
        assert order == []
    first.join(10)
    second.join(10)
    assert order == ["webhook", "worker"]


def test_two_workers_resuming_one_unfinished_answer_send_it_once(database):
    """An answer whose send was cut off (its worker died) is taken up again once the
    lease runs out. Two workers that read it at once both see it free: only the first
    to write resumes it; the other writes nothing."""
    store = Store(database)
    store.enqueue([queued("E1")])
    with store.turn("line:U1", "dead", 30.0, time.time()) as t:
        t.decide(ConvState("main", "s", {}, [], T, {}), {"batches": [["reply"]]}, send=True,
                 now=time.time())  # then the worker died before sending
    later = time.time() + 60  # the dead worker's lease has run out
    with pytest.raises(Contended), store.turn("line:U1", "w2", 30.0, later) as second:
        assert second.event is not None and second.event.status == "sending"
        with store.turn("line:U1", "w1", 30.0, later) as first:
            assert first.event is not None and first.event.status == "sending"
            first.resume(later)
        second.resume(later)
    assert store.holds("line:U1", "w1") and not store.holds("line:U1", "w2")


def test_a_write_lock_that_cannot_be_taken_leaves_the_event_to_try_again(tmp_path, monkeypatch):
    """The lock file unwritable, or the database locked for longer than its timeout:
    a database error, so the event waits and is tried again (not answered with the
    apology meant for events that can never be handled)."""
    from bot.handling import transient
    from bot.store import WriterLock

    store = Store(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    store.enqueue([queued("E1")])

    def unavailable(self) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(WriterLock, "__enter__", unavailable)
    with pytest.raises(Exception) as raised, store.turn("line:U1", "w1", 30.0, time.time()) as t:
        t.lock()
    assert transient(raised.value)
    monkeypatch.undo()
    with store.turn("line:U1", "w1", 30.0, time.time()) as t:
        assert t.event is not None and t.event.status == "pending"


def test_a_deletion_being_confirmed_is_not_taken_up_by_another_worker(database):
    """The person asked to be forgotten: everything of theirs is deleted with the decision,
    but the confirmation is still being sent. Another worker must not see the person as
    free and send it a second time; once it is sent, no row of theirs is left."""
    from sqlalchemy import select

    from bot.store.schema import conversations

    store = Store(database)
    store.save("line:U1", ConvState("main", "s", {}, [], T, {}))
    store.enqueue([queued("E1")])
    now = time.time()
    with store.turn("line:U1", "w1", 30.0, now) as t:
        t.decide(None, {"batches": [["deleted"]]}, send=True, now=now, forget=True)
        event = t.event
    with store.turn("line:U1", "w2", 30.0, now + 1) as other:
        assert other.event is None and other.held
    store.finish(event, None, forget=True)  # sent
    with store.engine.connect() as conn:
        assert conn.execute(select(conversations)).all() == []
    assert store.finished("E1") and store.pending_keys(time.time()) == []


def test_turns_that_find_nothing_keep_the_connections_prepared_statements(database):
    """psycopg drops every statement prepared on a connection at each ROLLBACK. Turns that
    found nothing to do ended that way, so PostgreSQL parsed and planned the turn's read
    (a join of four tables) for nearly every event. They end with COMMIT now."""
    if not database.startswith("postgresql"):
        pytest.skip("SQLite prepares nothing across statements")
    from sqlalchemy import text

    store = Store(database)
    store.enqueue([queued("E1")])
    for _ in range(8):  # psycopg prepares a statement at its fifth use on a connection
        with store.turn("line:U2", "w1", 30.0, time.time()) as t:  # nothing of theirs
            assert t.event is None
    assert store.engine.pool.checkedin() == 1  # one connection served every turn
    with store.engine.connect() as conn:
        prepared = conn.execute(text("SELECT statement FROM pg_prepared_statements")).scalars()
        assert any("FROM inbox" in s and "conv_key" in s for s in prepared)
