"""A few threads at a time use the CPU and the database; the others' writes go in with theirs.

A worker process runs many threads (one per conversation being answered), but
only `n` of them may decide or record an outcome at once: more would only take
turns at the GIL. A thread that finds every slot taken does not just wait: it
leaves its database work in the queue, and the next thread to get a slot does
the work of everyone queued for the same kind of work in one transaction, with
one commit (a group commit). Under load that saves a connection, a BEGIN and a
COMMIT per event; with nothing queued, a thread does its own work alone, as it
would without this.

If the group's transaction fails (a member's error, a conflict, the commit
refused), it is rolled back and every member's work runs again alone, each in
its own transaction, so that one member's trouble is its own: its error reaches
its own thread, and the others' work still goes in. (A commit whose outcome is
unknown, the connection lost during it, may have gone in: the work is written so
that running it again is harmless: a stored event is not stored twice, a
decided one is sent again, not decided again.) A member learns of its work's
result only once the group has committed; if the leader is interrupted
(`BaseException`), members whose work did not go in get an error, never another
transaction's result.

Slots are handed on in the order threads asked for them, and each waiting thread
is woken only when it is handed a slot or its work is done (no thundering herd
of a process's threads at every commit).
"""
from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Callable, ContextManager, Generic, TypeVar

from .forks import reset_after_fork

logger = logging.getLogger(__name__)
T = TypeVar("T")
GROUP_LIMIT = 32  # members of one group at most: one transaction stays short


class _Job(Generic[T]):
    __slots__ = ("kind", "work", "state", "result", "error", "ran", "wake")

    def __init__(self, kind: str, work: Callable[[Any], T] | None):
        self.kind, self.work = kind, work
        self.state = "queued"  # then "lead" (handed a slot), or "taken" into a group, "done"
        self.result: T | None = None
        self.error: BaseException | None = None
        self.ran = False  # its work's outcome is known (committed, or its error)
        self.wake = threading.Lock()  # released to wake its thread: it leads, or is done
        self.wake.acquire()

    def alone(self) -> None:
        assert self.work is not None
        self.ran = False
        try:
            self.result, self.error = self.work(None), None
        except Exception as exc:
            self.error = exc
        self.ran = True


class Slots:
    """`n` slots; `with slots:` holds one, `slots.run(...)` may join a group (see the module)."""

    def __init__(self, n: int):
        self.n = max(1, n)
        self.groups = self.failed = 0  # groups committed, and failed (for tests and profiling)
        self._forked()
        reset_after_fork(self)

    def _forked(self) -> None:
        """All slots free, none waiting: at the start, and in a forked child (which has
        none of the parent's threads, whatever slots they held at the fork)."""
        self._free = self.n
        self._lock, self._counting = threading.Lock(), threading.Lock()
        self._waiting: collections.deque[_Job[Any]] = collections.deque()

    def __enter__(self) -> None:
        self._enter(_Job("plain", None))

    def __exit__(self, *exc: Any) -> None:
        self._leave()

    def _enter(self, job: _Job[Any]) -> None:
        """Return once `job` holds a slot ("lead"), or a group that took it is done."""
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                job.state = "lead"
                return
            self._waiting.append(job)
        try:
            job.wake.acquire()
        except BaseException:  # interrupted (in the main thread): leave no slot taken
            with self._lock:
                queued = job in self._waiting
                if queued:
                    self._waiting.remove(job)
            if not queued and job.state == "lead":
                self._leave()
            raise  # ("taken": a leader runs it, and nobody hears of it)

    def _leave(self) -> None:
        """Hand this slot to the thread that has waited longest, or free it."""
        with self._lock:
            if self._waiting:
                job = self._waiting.popleft()
                job.state = "lead"
                job.wake.release()
            else:
                self._free += 1

    def run(self, kind: str, work: Callable[[Any], T],
            together: Callable[[], ContextManager[Any]] | None,
            clean: tuple[type[BaseException], ...] = ()) -> T:
        """`work(conn)` in a slot: alone (`conn` None), or with others' work of the same
        `kind` queued meanwhile, on the connection `together()` yields, which commits
        them all at once (or rolls all back, on an error escaping it). `clean`: errors
        of `work` that wrote nothing, so the group's transaction goes on without it.
        Returns what `work` returned, or raises what it raised, in this thread."""
        job: _Job[T] = _Job(kind, work)
        self._enter(job)
        if job.state == "lead":
            jobs: list[_Job[Any]] = [job]
            try:
                if together is not None:
                    with self._lock:
                        others = [j for j in self._waiting if j.kind == kind and j.work]
                        for other in others[:GROUP_LIMIT]:
                            self._waiting.remove(other)
                            other.state = "taken"
                            jobs.append(other)
                self._lead(jobs, together, clean)
            finally:
                for other in jobs[1:]:
                    other.state = "done"
                    other.wake.release()
                self._leave()
        if not job.ran:
            raise RuntimeError("not done: the thread doing it was interrupted")
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _lead(self, jobs: list[_Job[Any]], together: Callable[[], ContextManager[Any]] | None,
              clean: tuple[type[BaseException], ...]) -> None:
        if len(jobs) == 1 or together is None:
            for j in jobs:
                j.alone()
            return
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            with together() as conn:
                for j in jobs:
                    assert j.work is not None
                    try:
                        outcomes.append((j.work(conn), None))
                    except clean as exc:
                        outcomes.append((None, exc))
        except Exception as exc:  # rolled back: each again, alone
            with self._counting:
                self.failed += 1
            logger.debug("a group of %d failed (%s); each runs alone", len(jobs),
                         type(exc).__name__)
            for j in jobs:
                j.alone()
            return
        for j, (result, error) in zip(jobs, outcomes):  # committed: now they count
            j.result, j.error, j.ran = result, error, True
        with self._counting:
            self.groups += 1
