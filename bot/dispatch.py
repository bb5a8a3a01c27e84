"""Process stored events off the request path, one at a time per conversation.

The webhook only stores events and answers. Worker threads in every process
then take a conversation's lease in the database (so several workers and
several machines sharing one PostgreSQL never handle one person's events at
once), run its due events through the engine in timestamp order, save the
decision, and send. A crash at any point leaves the event in the inbox; once
the lease expires, any worker picks it up again.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import traceback
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from .engine import ConvKey, Engine, Inbound, Reply
from .engine.handoff import DELETE
from .store import QueuedEvent, Store

logger = logging.getLogger(__name__)


def log_failure(what: str, exc: BaseException) -> None:
    """Log where an error happened, never its message: a message can quote a person's words."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("%s: %s (message withheld)\n%s", what, type(exc).__name__, frames)


class SendError(Exception):
    """Sending failed; `retry` says whether trying again later may help."""

    def __init__(self, message: str, retry: bool):
        super().__init__(message)
        self.retry = retry


class Channel(Protocol):
    """What the dispatcher needs of a platform adapter."""

    def render(self, reply: Reply) -> Any: ...
    def send(self, key: ConvKey, ev: QueuedEvent, outbound: Any, first_try: bool) -> None: ...
    def show_loading(self, key: ConvKey) -> None: ...


def inbound_from(data: dict[str, Any]) -> Inbound:
    """Rebuild an engine inbound from its stored form."""
    return Inbound(data["kind"], datetime.fromisoformat(data["at"]), data.get("text", ""),
                   data.get("data", ""))


def stored_inbound(kind: str, ts_ms: int, text: str = "", data: str = "") -> dict[str, Any]:
    """The stored form of an inbound, with the event time as 'now'."""
    at = datetime.fromtimestamp(ts_ms / 1000, timezone.utc)
    return {"kind": kind, "at": at.isoformat(), "text": text, "data": data}


class Dispatcher:
    """Worker threads draining the inbox."""

    def __init__(self, store: Store, engine: Callable[[], Engine | None], channels: dict[str, Channel],
                 *, desk: Any = None, threads: int = 2, lease: float = 60.0, poll: float = 2.0,
                 settle: float = 0.25, loading_after: float = 1.0, max_attempts: int = 6,
                 keep_ids_for: float = 3 * 86400, transcript_days: float = 30.0):
        self.store, self.engine, self.channels, self.desk = store, engine, channels, desk
        self.transcript_days = transcript_days
        self.threads, self.lease, self.poll, self.settle = threads, lease, poll, settle
        self.loading_after, self.max_attempts, self.keep_ids_for = loading_after, max_attempts, keep_ids_for
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._last_purge = 0.0

    # -- life cycle ------------------------------------------------------------

    def start(self) -> bool:
        """Start the worker threads once per process; True if this call started them."""
        with self._lock:
            if self.threads <= 0 or any(t.is_alive() for t in self._workers):
                return False
            self._stopping.clear()
            self._workers = [threading.Thread(target=self._loop, name=f"dispatch-{i}", daemon=True)
                             for i in range(self.threads)]
            for t in self._workers:
                t.start()
            return True

    def stop(self) -> None:
        """Stop the worker threads and wait for them."""
        self._stopping.set()
        self.nudge()
        for t in self._workers:
            t.join(timeout=30)

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
            if not busy:
                with self._wake:
                    self._wake.wait(timeout=min(self.poll, self.settle) if self._due_soon() else self.poll)

    def _due_soon(self) -> bool:
        return bool(self.store.pending_keys(time.time() + self.settle, limit=1))

    # -- one pass --------------------------------------------------------------

    def run_once(self, owner: str = "inline") -> bool:
        """Process every conversation with due events that no one else holds; True if any ran."""
        if self.engine() is None:  # broken content at start-up: keep events until it is fixed
            return False
        now = time.time()
        if now - self._last_purge > 600:
            self._last_purge = now
            self.store.purge_inbox(now - self.keep_ids_for)
            self.store.handoffs.purge(now - self.transcript_days * 86400)
            self.store.operators.forget_failures(now - 86400)
        ran = False
        for key in self.store.pending_keys(now):
            if self.store.acquire(key, owner, self.lease, time.time()):
                try:
                    ran = self._drain_conversation(key, owner) or ran
                finally:
                    self.store.release(key, owner)
        return ran

    def drain(self, timeout: float = 10.0) -> None:
        """Process until nothing is due (for the CLI and tests)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.run_once() and not self.store.pending_keys(time.time() + self.settle):
                return
            time.sleep(0.02)

    def _drain_conversation(self, key: str, owner: str) -> bool:
        ran = False
        while True:
            ev = self.store.next_event(key, time.time(), self.settle)
            if ev is None:
                return ran
            self.store.acquire(key, owner, self.lease, time.time())  # renew for this event
            self._process(ConvKey.parse(key), ev)
            ran = True

    # -- one event -------------------------------------------------------------

    def _process(self, key: ConvKey, ev: QueuedEvent) -> None:
        channel = self.channels[key.channel]
        timer = threading.Timer(self.loading_after, self._loading, (channel, key))
        timer.daemon = True
        timer.start()
        try:
            if ev.status == "pending":
                outbound = self._decide(key, ev, channel)
                first_try = True
            else:  # decided before: the reply token may be spent, so the channel pushes
                outbound, first_try = ev.outbound, False
            if outbound and self.desk is not None and self.desk.claimed(str(key)):
                # Checked at the moment of sending: staff may have claimed it meanwhile.
                logger.info("event %s: staff have the conversation; bot reply withheld", ev.event_id)
            elif outbound:
                channel.send(key, ev, outbound, first_try)
            self.store.finish(ev.event_id)
        except SendError as exc:
            self._failed(ev, str(exc), exc.retry)
        except Exception as exc:  # a bug must not block this person's later messages forever
            log_failure(f"event {ev.event_id} failed", exc)
            self._failed(ev, type(exc).__name__, True)
        finally:
            timer.cancel()

    def _decide(self, key: ConvKey, ev: QueuedEvent, channel: Channel) -> Any:
        inbound = inbound_from(ev.inbound or {})
        skey = str(key)
        if inbound.kind == "unfollow":  # blocked us: nothing of theirs is kept
            self.desk.delete_everything(skey, "the person blocked the bot")
            return None
        handoff, view = self.desk.view(skey)
        outcome = self.engine().handle(self.store.load(skey), inbound, view)
        handoff = self.desk.carry_out(key, outcome, handoff)
        outbound = channel.render(outcome.reply) if outcome.reply.messages else None
        if DELETE in outcome.actions:
            self.store.decide(ev, skey, None, outbound)
            self.desk.delete_everything(skey, "at the person's request")
        else:
            if inbound.kind != "group":
                self.desk.record_turn(skey, inbound, outcome, handoff)
            self.store.decide(ev, skey, outcome.conv, outbound)
        logger.info("event %s handled: state %s, fired %s, actions %s", ev.event_id,
                    outcome.conv.state, ",".join(outcome.fired) or "-",
                    ",".join(outcome.actions) or "-")
        return outbound

    def _failed(self, ev: QueuedEvent, error: str, retry: bool) -> None:
        if retry and ev.attempts + 1 < self.max_attempts:
            delay = min(300.0, 2.0 ** (ev.attempts + 1))
            logger.warning("event %s: %s; retrying in %.0f s", ev.event_id, error, delay)
            self.store.retry_later(ev.event_id, time.time() + delay, error)
        else:
            logger.error("event %s given up: %s", ev.event_id, error)
            self.store.finish(ev.event_id, "failed", error)

    def _loading(self, channel: Channel, key: ConvKey) -> None:
        try:
            channel.show_loading(key)
        except Exception:  # the animation is a courtesy; never let it fail an event
            logger.warning("loading animation failed for one conversation", exc_info=True)
