"""Calls due a little later, armed and cancelled at the cost of a heap entry.

The dispatcher arms a call for every event it handles (LINE's loading animation,
shown only if the answer is slow) and nearly always cancels it. A
`threading.Timer` starts a thread for each: about a quarter of a millisecond of
CPU per event, a twentieth of what handling one costs. Here an armed call is an
entry in a heap, and one thread sleeps until the earliest is due; a call that
comes due runs on a thread of its own, so that a slow one (a network call)
holds back no other.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Any, Callable

from .forks import reset_after_fork

logger = logging.getLogger(__name__)


class Alarm:
    """One call, as `threading.Timer` has it: `start()` arms it, `cancel()` means it is not made
    (unless it is already being made)."""

    __slots__ = ("owner", "seconds", "fn", "args", "cancelled", "armed")

    def __init__(self, owner: Alarms, seconds: float, fn: Callable[..., Any], args: tuple):
        self.owner, self.seconds, self.fn, self.args = owner, seconds, fn, args
        self.cancelled = self.armed = False

    def start(self) -> None:
        """Arm it; once only (a turn run again after its group failed starts it again)."""
        if not self.armed:
            self.armed = True
            self.owner._arm(self)

    def cancel(self) -> None:
        self.cancelled = True


class Alarms:
    """Makes `Alarm`s, and starts the call of each one started, when it is due."""

    def __init__(self, name: str = "alarms", idle: float = 60.0):
        self.name, self.idle = name, idle  # the thread ends after `idle` s with nothing armed
        self._forked()
        reset_after_fork(self)

    def _forked(self) -> None:
        """Nothing armed, no thread, a new lock: at the start, and in a forked child."""
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Alarm]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def timer(self, seconds: float, fn: Callable[..., Any], *args: Any) -> Alarm:
        """`fn(*args)`, `seconds` after the alarm is started."""
        return Alarm(self, seconds, fn, args)

    def _arm(self, alarm: Alarm) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + alarm.seconds, next(self._seq), alarm))
            if self._thread is None or not self._thread.is_alive():
                thread = self._thread = threading.Thread(target=self._run, name=self.name,
                                                         daemon=True)
                thread.start()
            elif self._heap[0][2] is alarm:  # sooner than the thread sleeps until
                self._cond.notify()

    def pending(self) -> int:
        """Armed calls not yet made nor cancelled."""
        with self._cond:
            return sum(1 for _, _, a in self._heap if not a.cancelled)

    def _run(self) -> None:
        cond, heap = self._cond, self._heap
        while True:
            with cond:
                while True:
                    while heap and heap[0][2].cancelled:
                        heapq.heappop(heap)
                    if not heap:
                        if not cond.wait(self.idle) and not heap:
                            if self._thread is threading.current_thread():
                                self._thread = None  # the next alarm starts another
                            return
                        continue
                    wait = heap[0][0] - time.monotonic()
                    if wait <= 0:
                        alarm = heapq.heappop(heap)[2]
                        break
                    cond.wait(wait)
            if not alarm.cancelled:
                threading.Thread(target=_call, args=(alarm,), name=f"{self.name}-call",
                                 daemon=True).start()


def _call(alarm: Alarm) -> None:
    if alarm.cancelled:  # cancelled while its thread started
        return
    try:
        alarm.fn(*alarm.args)
    except Exception:
        logger.exception("a delayed call failed")
