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
import traceback
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy.exc import DBAPIError, OperationalError

from .channels.base import Channel, Delivery, SendError, inbound_from
from .engine import ConvKey, Engine, Inbound, Reply, Text
from .engine.handoff import DELETE
from .store import LeaseLost, QueuedEvent, Store

logger = logging.getLogger(__name__)

FALLBACK = ("申し訳ありません。いまのメッセージを、うまく受け取れませんでした。"
            "お手数ですが、少し時間をおいて、もう一度送ってください。\n"
            "危険を感じているときは110番へ。つらい気持ちのときは、下の窓口でも話を聞いてもらえます。")


def log_failure(what: str, exc: BaseException) -> None:
    """Log where an error happened, never its message: a message can quote a person's words."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("%s: %s (message withheld)\n%s", what, type(exc).__name__, frames)


def transient(exc: BaseException) -> bool:
    """Whether an error may pass by itself (the database unreachable), not recur forever."""
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def fallback_reply(engine: Engine, inbound: Inbound) -> Reply:
    """A kind answer for an event that cannot be handled, with emergency and crisis windows."""
    reply = Reply([Text(FALLBACK)])
    if engine.contacts is not None:
        try:
            for alert, limit in (("danger", 2), ("crisis", 3)):
                reply.messages.extend(engine.contacts({"alert": alert, "limit": limit}, {},
                                                      inbound))
        except Exception as exc:  # the text alone still goes out
            log_failure("fallback windows unavailable", exc)
    return reply


class Dispatcher:
    """Worker threads draining the inbox, and the outbox after them."""

    def __init__(self, store: Store, engine: Callable[[], Engine | None],
                 channels: dict[str, Channel], *, desk: Any, threads: int = 2,
                 lease: float = 30.0, poll: float = 2.0, settle: float = 0.25,
                 loading_after: float = 1.0, retry_for: float = 24 * 3600,
                 max_backoff: float = 300.0, stuck_after: float = 120.0,
                 keep_ids_for: float = 3 * 86400, transcript_days: float = 30.0,
                 outbox: Any = None):
        self.store, self.engine, self.channels, self.desk = store, engine, channels, desk
        self.threads, self.lease, self.poll, self.settle = threads, lease, poll, settle
        self.loading_after, self.retry_for, self.max_backoff = loading_after, retry_for, max_backoff
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
            self._process(ConvKey.parse(key), ev, owner)
            ran = True
        return ran

    # -- one event -------------------------------------------------------------

    def _process(self, key: ConvKey, ev: QueuedEvent, owner: str | None) -> None:
        channel = self.channels.get(key.channel)
        if channel is None:  # no adapter for it here (a channel since switched off)
            logger.error("event %s: no channel %r; dropped", ev.event_id, key.channel)
            self.store.finish(ev, owner, "failed", "no such channel")
            return
        timer = threading.Timer(self.loading_after, self._loading, (channel, key))
        timer.daemon = True
        timer.start()
        try:
            outbound = self._decided(key, ev, channel, owner)
            forget = ev.forget or bool(outbound and outbound.get("forget"))
            if forget:  # the person was deleted: no lease row any more, and no link kept
                owner = None
            if not outbound or not outbound.get("batches"):
                self.store.finish(ev, owner, forget=forget)
            elif self.desk is not None and self.desk.claimed(str(key)):
                # Checked at the moment of sending: staff may have claimed it meanwhile.
                logger.info("event %s: staff have the conversation; bot reply withheld", ev.event_id)
                self.store.finish(ev, owner)
            else:
                self._send(key, ev, channel, outbound, owner, forget)
        except LeaseLost:
            logger.warning("event %s: lease lost; another worker carries on", ev.event_id)
        except Exception as exc:  # never let one event stop the worker
            log_failure(f"event {ev.event_id} failed", exc)
            self._failed(ev, owner, SendError(type(exc).__name__, retry=True,
                                              unknown=ev.status == "sending"))
        finally:
            timer.cancel()

    def _decided(self, key: ConvKey, ev: QueuedEvent, channel: Channel, owner: str | None) -> Any:
        """The event's rendered answer: decided now if it was not before."""
        if ev.status != "pending":
            return ev.outbound
        try:
            outbound, safety = self._decide(key, ev, channel, owner)
        except LeaseLost:
            raise
        except Exception as exc:
            if transient(exc):
                raise
            log_failure(f"event {ev.event_id} cannot be handled; answering with the fallback", exc)
            outbound, safety = self._fallback(ev, channel, owner), True
        ev.status, ev.safety, ev.sent_batches = "decided", safety, 0
        return outbound

    def _decide(self, key: ConvKey, ev: QueuedEvent, channel: Channel,
                owner: str | None) -> tuple[Any, bool]:
        engine = self.engine()
        assert engine is not None
        inbound = inbound_from(ev.inbound or {})
        skey = str(key)
        if inbound.kind == "unfollow":  # blocked us: nothing of theirs is kept
            self.store.decide(ev, owner, None, None, forget=True,
                              effects=lambda conn: self.desk.deleted(conn, skey,
                                                                     "the person blocked the bot"))
            logger.info("event %s: all data of one conversation deleted", ev.event_id)
            ev.forget = True
            return None, False
        handoff, view = self.desk.view(skey)
        outcome = engine.handle(self.store.load(skey), inbound, view)
        rendered = channel.render(outcome.reply, outcome.fired) if outcome.reply.messages else None
        safety = any(f.startswith("interrupt:") for f in outcome.fired)
        deleting = DELETE in outcome.actions
        if deleting:
            ev.forget = True
            if rendered is not None:  # remembered for a retry of the send, too
                rendered["forget"] = True

        def effects(conn: Any) -> None:
            done = self.desk.carry_out(conn, key, outcome, handoff)
            if deleting:
                self.desk.deleted(conn, skey, "at the person's request")
            elif inbound.kind != "group":
                self.desk.record_turn(conn, skey, inbound, outcome, done)

        self.store.decide(ev, owner, outcome.conv, rendered, safety=safety, effects=effects,
                          forget=deleting)
        logger.info("event %s handled: state %s, fired %s, actions %s", ev.event_id,
                    outcome.conv.state, ",".join(outcome.fired) or "-",
                    ",".join(outcome.actions) or "-")
        return rendered, safety

    def _fallback(self, ev: QueuedEvent, channel: Channel, owner: str | None) -> Any:
        engine = self.engine()
        assert engine is not None
        try:
            inbound = inbound_from(ev.inbound or {})
        except (KeyError, ValueError, TypeError):
            inbound = Inbound("other", datetime.now(timezone.utc))
        rendered = channel.render(fallback_reply(engine, inbound))
        self.store.decide(ev, owner, None, rendered, safety=True)
        return rendered

    def _send(self, key: ConvKey, ev: QueuedEvent, channel: Channel, outbound: Any,
              owner: str | None, forget: bool = False) -> None:
        delivery = Delivery(ev.event_id, dict(ev.delivery or {}), ev.received_at,
                            ev.sent_batches, ev.status == "sending", ev.safety, ev.attempts,
                            ev.sending_at)
        self.store.sending(ev, owner, time.time())
        try:
            channel.send(key, delivery, outbound)
        except SendError as exc:
            self._failed(ev, owner, exc, delivery.data)
            return
        except Exception as exc:  # a bug mid-send: whether it went out is unknown
            log_failure(f"event {ev.event_id}: send failed", exc)
            self._failed(ev, owner, SendError(type(exc).__name__, retry=True, unknown=True,
                                              sent=delivery.sent), delivery.data)
            return
        self.store.finish(ev, owner, forget=forget)

    def _failed(self, ev: QueuedEvent, owner: str | None, exc: SendError,
                delivery: dict[str, Any] | None = None) -> None:
        age = time.time() - (ev.received_at or time.time())
        if not exc.retry or age > self.retry_for:
            logger.error("event %s given up after %d attempts: %s", ev.event_id, ev.attempts + 1,
                         exc)
            self.store.finish(ev, owner, "failed", str(exc), forget=ev.forget)
            return
        delay = min(self.max_backoff, 2.0 ** min(ev.attempts + 1, 16))
        if exc.retry_after:
            delay = max(delay, min(exc.retry_after, 3600.0))
        logger.warning("event %s: %s; retrying in %.0f s", ev.event_id, exc, delay)
        self.store.retry_later(ev, owner, time.time() + delay, str(exc), sent=exc.sent,
                               unknown=exc.unknown, delivery=delivery)

    def _loading(self, channel: Channel, key: ConvKey) -> None:
        try:
            channel.loading(key)
        except Exception:  # the animation is a courtesy; never let it fail an event
            logger.warning("loading animation failed for one conversation")

