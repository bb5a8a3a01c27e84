"""Process stored events off the request path, one at a time per conversation.

The webhook only stores events and answers. Worker threads in every process
then take a conversation's lease in the database (so several workers and
several machines sharing one PostgreSQL never handle one person's events at
once), run its due events through the engine in timestamp order, and for each:

1. decide: the new state, the transcript, handoff and audit rows, calls for the
   outbox, and the rendered reply, in one transaction, only while the lease is
   still ours;
2. record "sending", then send through the channel;
3. record "done".

A crash between 2 and 3 leaves the event "sending": its outcome is unknown, and
the channel resolves it (see `channels/line/sender.py`). A failed send is
retried with capped backoff for `retry_for` seconds. An error that would recur
(a bug, data the database refuses) is not retried: the person gets a kind
fallback with the crisis and emergency windows instead of silence.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Any, Callable

from .channels.base import Channel
from .engine import ConvKey, Engine
from .handling import EventHandler, log_failure
from .store import Store

logger = logging.getLogger(__name__)


class Dispatcher:
    """Worker threads draining the inbox, and the outbox after them."""

    def __init__(self, store: Store, engine: Callable[[], Engine | None],
                 channels: dict[str, Channel], *, desk: Any, threads: int = 2,
                 lease: float = 30.0, poll: float = 2.0, settle: float = 0.25,
                 loading_after: float = 1.0, retry_for: float = 24 * 3600,
                 max_backoff: float = 300.0, stuck_after: float = 120.0,
                 keep_ids_for: float = 3 * 86400, transcript_days: float = 30.0,
                 outbox: Any = None):
        self.store, self.engine, self.desk = store, engine, desk
        self.handler = EventHandler(store, engine, channels, desk, loading_after=loading_after,
                                    retry_for=retry_for, max_backoff=max_backoff)
        self.threads, self.lease, self.poll, self.settle = threads, lease, poll, settle
        self.stuck_after, self.keep_ids_for = stuck_after, keep_ids_for
        self.transcript_days, self.outbox = transcript_days, outbox
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        self._held: dict[str, str] = {}  # owner -> conversation key, for the heartbeat
        self._lock = threading.Lock()
        self._last_chores = 0.0

    # -- life cycle ------------------------------------------------------------

    def start(self) -> bool:
        """Start the worker threads and the lease heartbeat once per process."""
        with self._lock:
            if self.threads <= 0 or any(t.is_alive() for t in self._workers):
                return False
            self._stopping.clear()
            self._workers = [threading.Thread(target=self._loop, name=f"dispatch-{i}", daemon=True)
                             for i in range(self.threads)]
            self._workers.append(threading.Thread(target=self._heartbeat, name="dispatch-lease",
                                                  daemon=True))
            for t in self._workers:
                t.start()
            return True

    def stop(self, timeout: float = 20.0) -> None:
        """Let each worker finish the event in hand, release its lease, and wait for them."""
        self._stopping.set()
        self.nudge()
        deadline = time.time() + timeout
        for t in self._workers:
            t.join(timeout=max(0.1, deadline - time.time()))
        for owner, key in list(self._held.items()):  # a worker stuck in a call: free it anyway
            self.store.release(key, owner)

    def nudge(self) -> None:
        """Wake the workers: new events are waiting."""
        with self._wake:
            self._wake.notify_all()

    def _loop(self) -> None:
        owner = f"{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}"
        while not self._stopping.is_set():
            try:
                busy = self.run_once(owner)
            except Exception as exc:  # keep the worker alive; the event stays in the inbox
                log_failure("dispatcher pass failed", exc)
                busy = False
            if not busy and not self._stopping.is_set():
                with self._wake:
                    self._wake.wait(timeout=min(self.poll, self.settle) if self._due_soon()
                                    else self.poll)

    def _heartbeat(self) -> None:
        """Renew the leases this process holds, so a long call never lets another worker in."""
        while not self._stopping.wait(self.lease / 3):
            for owner, key in list(self._held.items()):
                try:
                    if not self.store.renew(key, owner, self.lease, time.time()):
                        logger.warning("lease of a conversation was lost by %s", owner)
                except Exception as exc:
                    log_failure("lease renewal failed", exc)

    def _due_soon(self) -> bool:
        try:
            return bool(self.store.pending_keys(time.time() + self.settle, limit=1))
        except Exception:  # the database is away: poll again later
            return False

    # -- one pass --------------------------------------------------------------

    def run_once(self, owner: str = "inline") -> bool:
        """Process every conversation with due events that no one else holds; True if any ran."""
        if self.engine() is None:  # broken content at start-up: keep events until it is fixed
            return False
        self._chores()
        ran = False
        for key in self.store.pending_keys(time.time()):
            if self._stopping.is_set() and owner != "inline":
                break
            ran = self.run_conversation(key, owner) or ran
        if self.outbox is not None:
            ran = self.outbox.run_once() or ran
        return ran

    def run_conversation(self, key: str, owner: str, settle: float | None = None) -> bool:
        """Take the conversation's lease and handle its due events; False if it is held."""
        if not self.store.acquire(key, owner, self.lease, time.time()):
            return False
        self._held[owner] = key
        try:
            return self._drain_conversation(key, owner, self.settle if settle is None else settle)
        finally:
            self._held.pop(owner, None)
            self.store.release(key, owner)

    def handle_now(self, key: str, event_id: str, timeout: float = 15.0) -> bool:
        """Handle a conversation's events in this thread until `event_id` is finished.

        For the local channel: the person waits for the answer. A worker thread that
        holds the lease meanwhile is waited for. True if the event finished in time.
        """
        owner = f"now-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.engine() is not None:
                self.run_conversation(key, owner, settle=0.0)
            if self.store.finished(event_id):
                return True
            time.sleep(0.02)
        return False

    def drain(self, timeout: float = 10.0) -> None:
        """Process until nothing is due (for the CLI and tests)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.run_once() and not self.store.pending_keys(time.time() + self.settle):
                return
            time.sleep(0.02)

    def _chores(self) -> None:
        """Now and then: purge what is kept no longer, and tell staff of stuck answers."""
        now = time.time()
        if now - self._last_chores < min(60.0, self.stuck_after / 2):
            return
        self._last_chores = now
        self.store.purge_inbox(now - self.keep_ids_for)
        self.store.handoffs.purge(now - self.transcript_days * 86400)
        self.store.operators.forget_failures(now - 86400)
        stuck = self.store.stuck(now - self.stuck_after)
        if stuck and self.desk is not None:
            self.desk.stuck(stuck)

    def _drain_conversation(self, key: str, owner: str, settle: float) -> bool:
        ran = False
        while not (self._stopping.is_set() and owner != "inline"):
            ev = self.store.next_event(key, time.time(), settle)
            if ev is None:
                return ran
            if not self.store.acquire(key, owner, self.lease, time.time()):  # renew, and check
                logger.warning("event %s: lease lost before handling; leaving it", ev.event_id)
                return ran
            self.handler.process(ConvKey.parse(key), ev, owner)
            ran = True
        return ran
