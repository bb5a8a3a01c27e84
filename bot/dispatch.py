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
on SQLite in a worker process a watch of the file's commits, and a slow poll of
the whole inbox as a safety net (`poll` seconds).

Threads: each carries one conversation's event at a time, the wait for the
channel's answer included, so a worker process runs many (`WORKER_THREADS`):
one slow call to LINE then holds back one person, not everyone behind them. Only
a few decide at once (`EventHandler.deciding`, `DISPATCH_THREADS`), since more
would only take turns at the GIL; the threads waiting for them hand over their
turns and finishes, which the next one in commits together (`slots.py`: under
load, a few commits for many events).

Modes (`mode`):

- "all": the process that takes webhooks also handles them (`flask run`, tests);
- "worker": a process that only handles events (`flask --app bot work`, the
  Procfile's `worker`), woken by NOTIFY or the SQLite watch;
- "standby": the Procfile's web processes, which only store events and answer
  LINE, so that acknowledging never waits behind handling. They still poll;
  when events have waited more than `standby_after` seconds and no worker
  process has said it is alive for as long (the `workers` table), they handle
  them: events are answered, late, even if no worker runs (and the log says
  so). Workers that are merely behind are left to catch up.
"""
from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
import uuid
import zlib
from typing import Any, Callable, Iterable

from .channels.base import Channel
from .engine import Engine
from .handling import EventHandler, Ran, log_failure
from .store import Store

logger = logging.getLogger(__name__)
HELD_RETRY = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)  # a conversation another worker holds: look again
SCAN_PAGE = 500  # conversations one scan of the inbox makes ready
# While worker processes share the conversations (`Dispatcher.shard`), a scan takes a
# sibling's once it has been due this long and this process keeps up with its own; or
# once it has been due SIBLING_LATEST, whatever this process's own (see `_share_of`).
SIBLING_AFTER, SIBLING_LATEST = 30.0, 120.0
MODES = ("all", "worker", "standby")


def _process_name() -> str:
    """This process, as the workers table names it (after a fork: the child's pid)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


class Dispatcher:
    """Worker threads draining the inbox, and the outbox after them."""

    def __init__(self, store: Store, engine: Callable[[], Engine | None],
                 channels: dict[str, Channel], *, desk: Any, threads: int = 2,
                 lease: float = 30.0, poll: float = 5.0, reorder: float = 0.25,
                 loading_after: float = 1.0, retry_for: float = 24 * 3600,
                 max_backoff: float = 300.0, stuck_after: float = 120.0,
                 keep_ids_for: float = 3 * 86400, transcript_days: float = 30.0,
                 outbox: Any = None, listen: bool = True, mode: str = "all",
                 standby_after: float = 5.0, watch: float = 0.02):
        self.store, self.engine, self.desk = store, engine, desk
        self.handler = EventHandler(store, engine, channels, desk, lease=lease, reorder=reorder,
                                    loading_after=loading_after, retry_for=retry_for,
                                    max_backoff=max_backoff, deciding=threads)
        self.threads, self.lease, self.poll, self.listen = threads, lease, poll, listen
        self.stuck_after, self.keep_ids_for = stuck_after, keep_ids_for
        self.transcript_days, self.outbox = transcript_days, outbox
        if mode not in MODES:
            raise ValueError(f"dispatcher mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode, self.standby_after, self.watch = mode, standby_after, watch
        self._warned_standby = 0.0
        # (i, n): this is worker process i of n on this machine. Each takes the wake-ups and
        # the scans' finds of its share of conversations (by a hash of the key), so that n
        # processes do not all race for every event (see `_scan`). None: all. The
        # supervisor (`cli/work.py`) sets it only while all n workers are up.
        self._shard: tuple[int, int] | None = None
        self._scan_asked = False            # a sharded scan is wanted (the SQLite watch)
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        self._held: dict[str, str] = {}  # owner -> the conversation its thread works on
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

    @property
    def shard(self) -> tuple[int, int] | None:
        return self._shard

    @shard.setter
    def shard(self, shard: tuple[int, int] | None) -> None:
        """Take a share (or, with None, everything). Conversations that an earlier scan made
        ready here and that are now a sibling's are left to it (its own scans find them)."""
        with self._wake:
            self._shard = shard
            for key in [k for k in self._scanned if k in self._ready and not self._mine(k)]:
                del self._ready[key]
                self._scanned.discard(key)

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
            postgres = self.store.engine.dialect.name == "postgresql"
            if self.listen and self.mode != "standby":
                wake = self._listen if postgres else self._watch if self.mode == "worker" else None
                if wake is not None:
                    self._workers.append(threading.Thread(target=wake, name="dispatch-wake",
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
        if self.mode == "worker":
            try:
                self.store.worker_gone(_process_name())
            except Exception as exc:
                log_failure("worker sign-off failed", exc)

    def nudge(self, keys: Iterable[str] | None = None) -> None:
        """Wake the workers: these conversations (or, without keys, some) have new events."""
        if self.mode == "standby":  # the worker processes are woken through the database
            return
        now = time.time()
        with self._wake:
            if keys is None:
                self._next_scan = 0.0
            new = 0
            held = set(self._held.values())
            for key in keys or ():
                if key in held:  # its thread here carries on with it (see `_handed_on`)
                    self._again.add(key)
                    continue
                new += self._ready.get(key, now + 1) > now  # not due until now
                self._ready[key] = min(now, self._ready.get(key, now))
                self._scanned.discard(key)
            self._wake.notify(max(1, new))  # one thread per new conversation (see `threads`)

    def busy(self) -> bool:
        """Whether no worker of this process is free to take new events at once."""
        return (self.mode == "standby" or self._idle == 0
                or not any(t.is_alive() for t in self._workers))

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
            due = list(itertools.islice((k for k, at in self._ready.items() if at <= now), 2))
            key = due[0] if due else None
            if key is not None:
                del self._ready[key]
                self._held[owner] = key  # at once: a scan meanwhile must not make it ready again
                if len(due) > 1:  # more is due: pass the wake-up on (it may have been used up
                    self._wake.notify()  # by a thread whose wait timed out meanwhile)
            full = now >= self._next_scan or self._rescan
            scan = key is None and (full or self._scan_asked)
            if scan:
                self._scan_asked = False
                if full:
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
            try:
                self.run_conversation(key, owner)
            except Exception:  # look again soon, not only at the next poll
                with self._wake:
                    again = time.time() + 1.0
                    self._ready[key] = min(again, self._ready.get(key, again))
                raise
        elif scan:
            self._scan(sharded=not full)
        elif outbox and self.outbox is not None:
            self.outbox.run_once()

    def _scan(self, sharded: bool = False) -> None:
        """Look at the whole inbox: every conversation with due events becomes ready for
        all workers (one a thread here has in hand stays with that thread, which carries
        on if it has newer events); then the outbox. The safety net for wake-ups that
        never came. While processes share the conversations (`shard`), mostly only this
        process's share (see `_share_of`).
        `sharded`: only this process's share, however long it waited (the SQLite watch's
        scans, after nearly every commit)."""
        if self.engine() is None:  # broken content at start-up: keep events until it is fixed
            return
        self._chores()
        waited = self.standby_after if self.mode == "standby" else 0.0
        shard = self.shard
        page = SCAN_PAGE * (shard[1] if shard else 1)  # about SCAN_PAGE of this one's share
        found = self.store.pending(time.time(), limit=page, waited=waited)
        keys = [due.key for due in found]
        if keys and waited and self.store.workers_seen_since(time.time() - waited):
            keys = []  # a worker runs, and is behind: acknowledging keeps the CPU
        if keys and waited and time.time() - self._warned_standby > 60:
            self._warned_standby = time.time()
            logger.warning("events have waited over %.0f s for a worker process; handling them "
                           "here (is the Procfile's worker running?)", waited)
        full_page = len(keys) >= page
        count = {due.key: due.undecided for due in found}
        since = {due.key: due.since for due in found}
        with self._wake:
            now = time.time()
            new = 0
            holders: dict[str, list[str]] = {}  # in a thread's hands here (an answer in flight)
            for o, k in self._held.items():
                holders.setdefault(k, []).append(o)
            if self._shard is not None:  # (read under the lock: its setter takes it too)
                keys = self._share_of(keys, since, sharded, holders)
            for key in keys:
                if key in holders:  # not taken again; with a newer event, its holder carries on
                    decided = any(self.handler.decided.get(o) == key for o in holders[key])
                    if count.get(key, 0) > (0 if decided else 1):  # (1: its own, undecided)
                        self._again.add(key)
                elif key not in self._ready:
                    new += 1
                    self._ready[key] = now
                    self._scanned.add(key)
            self._rescan = self._rescan or full_page
            self._wake.notify(new + self._rescan)
        # A sharded scan follows nearly every commit on SQLite: the outbox waits for the
        # poll's scans (or this process's own decisions, `_outbox_due`) instead.
        if self.outbox is not None and not sharded:
            self.outbox.run_once()

    def _share_of(self, keys: list[str], since: dict[str, float], sharded: bool,
                  holders: dict[str, list[str]]) -> list[str]:
        """(Under `_wake`, while processes share the conversations.) Which of a scan's finds
        this process takes: its own share, and those a thread here has in hand. In a full
        scan, a sibling's too once it has been due `SIBLING_AFTER` seconds while this
        process keeps up with its own share (none has been due that long): the sibling is
        stuck, or far behind. And whatever this process's own, once it has been due
        `SIBLING_LATEST`: a sibling stuck while alive (no one else steps in: it still says
        it is alive) must not leave its people waiting for as long as one of this
        process's conversations looks late (waiting for a retry of its first answer, say).
        Were every process to take every find, in a backlog both would decide nearly
        every event, one in vain (its write refused): the CPU an event costs doubled just
        when events come faster than they are handled."""
        now = time.time()
        late, latest = now - SIBLING_AFTER, now - SIBLING_LATEST
        own = {k for k in keys if self._mine(k)}
        if sharded:
            return [k for k in keys if k in own or k in holders]
        limit = latest if any(since[k] <= late for k in own) else late
        return [k for k in keys if k in own or k in holders or since[k] <= limit]

    def _heartbeat(self) -> None:
        """Renew the leases this process holds, so a long call never lets another worker in;
        a worker process also says it is alive, for standby web processes."""
        beat = max(0.2, min(self.lease / 3, self.standby_after / 3))
        name = _process_name()
        first = True
        while not self._stopping.wait(0.0 if first else beat):
            first = False
            if self.mode == "worker":
                try:
                    self.store.worker_seen(name, time.time(), time.time() - 3600)
                except Exception as exc:
                    log_failure("worker heartbeat failed", exc)
            # Leases taken for an answer being sent, once the send has lasted half a beat
            # (it may outlast the lease; most end well before, and need no write). Not
            # `_held`: a thread may hold a conversation before its turn takes the lease.
            for owner, (key, since) in list(self.handler.sending.items()):
                if time.time() - since < beat / 2:
                    continue
                try:
                    if not self.store.renew(key, owner, self.lease, time.time()):
                        logger.warning("lease of a conversation was lost by %s", owner)
                except Exception as exc:
                    log_failure("lease renewal failed", exc)

    def _listen(self) -> None:
        """Wake for events stored by other processes (PostgreSQL NOTIFY), until stopped."""
        from .store.wake import listen

        listen(self.store, lambda key: self.nudge([key]) if self._mine(key) else None,
               self._stopping)

    def _watch(self) -> None:
        """Wake for events stored by other processes (SQLite: any commit to the file)."""
        from .store.wake import watch_sqlite

        watch_sqlite(self.store, self._ask_scan, self._stopping, self.watch)

    def _ask_scan(self) -> None:
        with self._wake:
            self._scan_asked = True
            self._wake.notify()

    def _mine(self, key: str) -> bool:
        """Whether this process takes wake-ups for this conversation (see `shard`)."""
        if self.shard is None:
            return True
        index, count = self.shard
        return zlib.crc32(key.encode("utf-8")) % count == index

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
        ran = False
        with self._wake:
            self._held[owner] = key
        try:
            if self.engine() is None:
                return False
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
                self._handed_on(key)
                if self._outbox_due or key in self._ready:
                    self._wake.notify()

    def _handed_on(self, key: str) -> None:
        """(Under `_wake`, as a thread lets go of `key`.) New events of a conversation that a
        thread here has in hand wait in `_again` for that thread, which carries on with them
        after its event, instead of another thread trying the conversation again and again
        while the first one's answer is on its way. The last thread to let go of it, if it
        did not carry on, makes it ready for anyone."""
        if key in self._again and key not in self._held.values():
            self._again.discard(key)
            self._ready[key] = time.time()

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
