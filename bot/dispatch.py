"""Process stored events off the request path, one at a time per conversation.

The webhook only stores events, tells the workers which conversations have new
ones (`nudge`), and answers. Worker threads in every process then take turns at
those conversations (see `handling.py` and `store/turn.py`): a turn takes the
conversation's lease in the database (so several workers and several machines
sharing one PostgreSQL never handle one person's events at once) and its
earliest event, and for it:

1. decides: the new state, the transcript, handoff and audit rows, calls for
   the outbox, the rendered reply, and "sending", in one transaction;
2. sends through the channel;
3. records "done", which also frees the lease.

A crash between 1 and 3 leaves the event "sending": its outcome is unknown, and
the channel resolves it (see `channels/line/sender.py`). A failed send is
retried with capped backoff for `retry_for` seconds. An error that would recur
(a bug, data the database refuses) is not retried: the person gets a kind
fallback with the crisis and emergency windows instead of silence.

Waking: `nudge` (the webhook in this process), PostgreSQL LISTEN/NOTIFY (a
webhook in another process whose own workers are all busy, see `store/wake.py`),
and a slow poll of the whole inbox as a safety net (`poll` seconds).
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Any, Callable, Iterable

from .channels.base import Channel
from .engine import Engine
from .handling import EventHandler, Ran, log_failure
from .store import Store

logger = logging.getLogger(__name__)
HELD_RETRY = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)  # a conversation another worker holds: look again
SCAN_PAGE = 500  # conversations one scan of the inbox makes ready


class Dispatcher:
    """Worker threads draining the inbox, and the outbox after them."""

    def __init__(self, store: Store, engine: Callable[[], Engine | None],
                 channels: dict[str, Channel], *, desk: Any, threads: int = 2,
                 lease: float = 30.0, poll: float = 5.0, reorder: float = 0.25,
                 loading_after: float = 1.0, retry_for: float = 24 * 3600,
                 max_backoff: float = 300.0, stuck_after: float = 120.0,
                 keep_ids_for: float = 3 * 86400, transcript_days: float = 30.0,
                 outbox: Any = None, listen: bool = True):
        self.store, self.engine, self.desk = store, engine, desk
        self.handler = EventHandler(store, engine, channels, desk, lease=lease, reorder=reorder,
                                    loading_after=loading_after, retry_for=retry_for,
                                    max_backoff=max_backoff)
        self.threads, self.lease, self.poll, self.listen = threads, lease, poll, listen
        self.stuck_after, self.keep_ids_for = stuck_after, keep_ids_for
        self.transcript_days, self.outbox = transcript_days, outbox
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        self._held: dict[str, str] = {}  # owner -> conversation key, for the heartbeat
        self._lock = threading.Lock()
        self._last_chores = 0.0
        self._ready: dict[str, float] = {}  # conversation -> when to look at it (under _wake)
        self._tries: dict[str, int] = {}    # conversation -> times found held, in a row
        self._again: set[str] = set()       # found held by a worker of this process
        self._next_scan = 0.0
        self._rescan = False                # the last scan filled its page: look again soon
        self._scanned: set[str] = set()     # ready because a scan found them, not a nudge
        self._outbox_due = False
        self._idle = 0                      # workers waiting for work

    # -- life cycle ------------------------------------------------------------

    def start(self) -> bool:
        """Start the worker threads, the lease heartbeat and the listener once per process."""
        with self._lock:
            if self.threads <= 0 or any(t.is_alive() for t in self._workers):
                return False
            self._stopping.clear()
            self._next_scan = 0.0
            self._workers = [threading.Thread(target=self._loop, name=f"dispatch-{i}", daemon=True)
                             for i in range(self.threads)]
            self._workers.append(threading.Thread(target=self._heartbeat, name="dispatch-lease",
                                                  daemon=True))
            if self.listen and self.store.engine.dialect.name == "postgresql":
                self._workers.append(threading.Thread(target=self._listen, name="dispatch-listen",
                                                      daemon=True))
            for t in self._workers:
                t.start()
            return True

    def stop(self, timeout: float = 20.0) -> None:
        """Let each worker finish the event in hand, release its lease, and wait for them."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.time() + timeout
        for t in self._workers:
            t.join(timeout=max(0.1, deadline - time.time()))
        for owner, key in list(self._held.items()):  # a worker stuck in a call: free it anyway
            self.store.release(key, owner)

    def nudge(self, keys: Iterable[str] | None = None) -> None:
        """Wake the workers: these conversations (or, without keys, some) have new events."""
        now = time.time()
        with self._wake:
            if keys is None:
                self._next_scan = 0.0
            for key in keys or ():
                self._ready[key] = min(now, self._ready.get(key, now))
                self._scanned.discard(key)
            self._wake.notify_all()

    def busy(self) -> bool:
        """Whether no worker of this process is free to take new events at once."""
        return self._idle == 0 or not any(t.is_alive() for t in self._workers)

    def _loop(self) -> None:
        owner = f"{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}"
        while not self._stopping.is_set():
            try:
                self._step(owner)
            except Exception as exc:  # keep the worker alive; the event stays in the inbox
                log_failure("dispatcher pass failed", exc)
                self._stopping.wait(1.0)

    def _step(self, owner: str) -> None:
        """Take one ready conversation, or scan when the poll is due, or wait for either."""
        with self._wake:
            now = time.time()
            key = next((k for k, at in self._ready.items() if at <= now), None)
            if key is not None:
                del self._ready[key]
            scan = key is None and (now >= self._next_scan or self._rescan)
            if scan:
                self._next_scan, self._rescan = now + self.poll, False
            outbox = key is None and not scan and self._outbox_due
            if outbox or scan:
                self._outbox_due = False
            if key is None and not scan and not outbox:
                until = min([self._next_scan, *self._ready.values()])
                self._idle += 1
                try:
                    self._wake.wait(timeout=max(0.0, until - now))
                finally:
                    self._idle -= 1
                return
        if key is not None:
            self.run_conversation(key, owner)
        elif scan:
            self._scan()
        elif outbox and self.outbox is not None:
            self.outbox.run_once()

    def _scan(self) -> None:
        """Look at the whole inbox: every conversation with due events becomes ready for
        all workers; then the outbox. The safety net for wake-ups that never came."""
        if self.engine() is None:  # broken content at start-up: keep events until it is fixed
            return
        self._chores()
        keys = self.store.pending_keys(time.time(), limit=SCAN_PAGE)
        with self._wake:
            now = time.time()
            for key in keys:
                if key not in self._ready:
                    self._ready[key] = now
                    self._scanned.add(key)
            self._rescan = len(keys) >= SCAN_PAGE
            self._wake.notify_all()
        if self.outbox is not None:
            self.outbox.run_once()

    def _heartbeat(self) -> None:
        """Renew the leases this process holds, so a long call never lets another worker in."""
        while not self._stopping.wait(self.lease / 3):
            for owner, key in list(self._held.items()):
                try:
                    if not self.store.renew(key, owner, self.lease, time.time()):
                        logger.warning("lease of a conversation was lost by %s", owner)
                except Exception as exc:
                    log_failure("lease renewal failed", exc)

    def _listen(self) -> None:
        """Wake for events stored by other processes (PostgreSQL NOTIFY), until stopped."""
        from .store.wake import listen

        listen(self.store, lambda key: self.nudge([key]), self._stopping)

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

    def run_conversation(self, key: str, owner: str) -> bool:
        """Handle the conversation's due events in turn while it is ours; True if any ran."""
        if self.engine() is None:
            return False
        ran = False
        with self._wake:
            self._held[owner] = key
        try:
            while not (self._stopping.is_set() and owner != "inline"):
                result = self.handler.run(key, owner)
                self._outbox_due = self._outbox_due or result.outbox
                if result.kind != "handled":
                    self._after(key, owner, result)
                    return ran
                ran = True
                with self._wake:
                    self._tries.pop(key, None)
                    if result.more <= 0 and key not in self._again:
                        return ran
                    self._again.discard(key)
            return ran
        finally:
            with self._wake:
                self._held.pop(owner, None)
                self._scanned.discard(key)
                if key in self._again:  # asked to carry on after all: someone looks again
                    self._again.discard(key)
                    self._ready[key] = time.time()
                if self._outbox_due or key in self._ready:
                    self._wake.notify_all()

    def _after(self, key: str, owner: str, result: Ran) -> None:
        """Remember when to look at a conversation again that could not be handled now."""
        with self._wake:
            if result.kind == "wait":
                self._ready[key] = min(result.at, self._ready.get(key, result.at))
            elif result.kind == "held":
                if key in self._scanned:  # found by a scan: its holder goes on to it
                    self._scanned.discard(key)
                    return
                if any(k == key and o != owner for o, k in self._held.items()):
                    self._again.add(key)  # a worker here has it: it carries on after
                    return
                tries = self._tries.get(key, 0)  # another process has it: look again soon,
                if tries < len(HELD_RETRY):      # then leave it to the poll
                    self._tries[key] = tries + 1
                    at = time.time() + HELD_RETRY[tries]
                    self._ready[key] = min(at, self._ready.get(key, at))
                else:
                    self._tries.pop(key, None)

    def handle_now(self, key: str, event_id: str, timeout: float = 15.0) -> bool:
        """Handle a conversation's events in this thread until `event_id` is finished.

        For the local channel: the person waits for the answer. A worker thread that
        holds the lease meanwhile is waited for. True if the event finished in time.
        """
        owner = f"now-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.run_conversation(key, owner)
            if self.store.finished(event_id):
                return True
            time.sleep(0.02)
        return False

    def drain(self, timeout: float = 10.0) -> None:
        """Process until nothing is due (for the CLI and tests)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.run_once() and not self.store.pending_keys(time.time()):
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
