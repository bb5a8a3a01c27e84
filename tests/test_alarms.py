"""The shared thread that makes delayed calls (the loading animation of slow answers)."""
from __future__ import annotations

import threading
import time

from bot.alarms import Alarms

from .helpers import held_by_another_thread, in_child


def test_a_started_alarm_calls_when_due_and_not_before():
    alarms, fired = Alarms(), threading.Event()
    started = time.monotonic()
    alarms.timer(0.3, fired.set).start()
    assert not fired.wait(0.15)
    assert fired.wait(5)
    assert time.monotonic() - started >= 0.3


def test_a_cancelled_or_unstarted_alarm_never_calls():
    alarms, calls = Alarms(), []
    cancelled = alarms.timer(0.1, calls.append, "cancelled")
    cancelled.start()
    cancelled.cancel()
    alarms.timer(0.1, calls.append, "never started")
    done = threading.Event()
    alarms.timer(0.3, done.set).start()
    assert done.wait(5)
    assert calls == []


def test_a_sooner_alarm_started_later_is_not_held_back_by_a_later_one():
    alarms, order = Alarms(), []
    done = threading.Event()
    alarms.timer(3.0, done.set).start()
    time.sleep(0.05)  # the thread now sleeps until the 3 s alarm
    alarms.timer(0.1, order.append, "soon").start()
    deadline = time.monotonic() + 2
    while not order and time.monotonic() < deadline:
        time.sleep(0.01)
    assert order == ["soon"] and not done.is_set()


def test_a_failing_call_does_not_stop_the_next(caplog):
    alarms, done = Alarms(), threading.Event()
    alarms.timer(0.05, lambda: 1 / 0).start()
    alarms.timer(0.1, done.set).start()
    assert done.wait(5)
    assert "a delayed call failed" in caplog.text


def test_many_alarms_share_one_thread():
    alarms, calls = Alarms("shared"), []
    before = threading.active_count()
    timers = [alarms.timer(0.2, calls.append, i) for i in range(200)]
    for t in timers:
        t.start()
    assert threading.active_count() <= before + 1
    for t in timers[:150]:
        t.cancel()
    deadline = time.monotonic() + 5
    while len(calls) < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(calls) == list(range(150, 200))


def test_the_thread_ends_when_idle_and_a_new_one_starts_when_needed():
    """An app that stops handling (tests build hundreds) leaves no thread behind."""
    alarms, first, second = Alarms("idle", idle=0.2), threading.Event(), threading.Event()
    alarms.timer(0.05, first.set).start()
    assert first.wait(5)
    deadline = time.monotonic() + 5
    while any(t.name == "idle" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(t.name == "idle" for t in threading.enumerate())
    alarms.timer(0.05, second.set).start()
    assert second.wait(5)


def test_a_slow_call_holds_back_no_other():
    """The loading animation is a network call: one stalled call must not delay the rest."""
    alarms, release, second = Alarms(), threading.Event(), threading.Event()
    alarms.timer(0.05, release.wait, 10).start()
    alarms.timer(0.1, second.set).start()
    try:
        assert second.wait(2)
    finally:
        release.set()


def test_alarms_work_in_a_forked_child_even_if_the_parent_held_their_lock():
    """gunicorn and `flask work` fork processes from one that built the app: each child's
    threads arm at once, and a lock held by a parent thread at the fork stays held."""
    alarms, done = Alarms(), threading.Event()
    alarms.timer(0.05, done.set).start()
    assert done.wait(5)  # the parent's thread runs
    def child() -> bytes:
        fired = [threading.Event() for _ in range(8)]
        arming = [threading.Thread(target=lambda e=e: alarms.timer(0.05, e.set).start())
                  for e in fired]
        for t in arming:
            t.start()
        return b"1" if all(e.wait(5) for e in fired) else b"0"

    with held_by_another_thread(alarms._cond):
        assert in_child(child) == b"1"
