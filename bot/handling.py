"""Handling one event: decide and record "sending", send, record "done" (or retry, or fall back).

The dispatcher names a conversation; a turn (`store/turn.py`) takes its lease
and earliest event and, in one transaction, saves the decision with "sending".
After the send one UPDATE records the outcome, which also frees the lease.
Under load, turns and outcomes waiting for a slot (`deciding`) are committed
together by the thread that gets one (`slots.py`). See `dispatch.py` for the
whole picture and `channels/line/sender.py` for how an
unknown outcome is resolved.
"""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy.exc import DBAPIError, OperationalError

from .alarms import Alarm, Alarms
from .channels.base import Channel, Delivery, SendError, inbound_from
from .engine import ConvKey, Engine, Inbound, Reply, Text
from .engine.handoff import DELETE
from .slots import Slots
from .store import Contended, Handoff, LeaseLost, QueuedEvent, Store, Turn
from .store.turn import contended

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


@dataclass
class Ran:
    """What one turn at a conversation came to.

    `kind`: "handled" an event; "idle" (nothing unfinished); "held" (another worker
    has the conversation, or wrote it first); "wait" (its next event is due at `at`).
    """

    kind: str
    at: float = 0.0
    more: int = 0          # unfinished events of the conversation after the handled one
    outbox: bool = False   # the decision queued calls to other services


class _Poison(Exception):
    """Deciding failed for a reason that would recur: answer with the fallback instead."""


class EventHandler:
    """Carries one event from the inbox to the person."""

    def __init__(self, store: Store, engine: Callable[[], Engine | None],
                 channels: dict[str, Channel], desk: Any, *, lease: float = 30.0,
                 reorder: float = 0.0, loading_after: float = 1.0,
                 retry_for: float = 24 * 3600, max_backoff: float = 300.0, deciding: int = 2):
        self.store, self.engine, self.channels, self.desk = store, engine, channels, desk
        self.lease, self.reorder = lease, reorder
        self.loading_after, self.retry_for, self.max_backoff = loading_after, retry_for, max_backoff
        self.alarms = Alarms("loading")  # the loading animation of slow answers
        # Threads that may use the CPU and the database at once; any number may wait for
        # the channel meanwhile. More would only take turns at the GIL (and on SQLite, one
        # holding the write lock would wait for the GIL behind the others). Those that
        # wait hand their turns and finishes to the next one in, which commits them
        # together (see `slots.py`).
        self.deciding = Slots(deciding)
        self._turns_together = (lambda: store.together(turns=True)) if store.groups_turns else None
        self.sending: dict[str, tuple[str, float]] = {}  # owner -> (conversation, since when)
        # owner -> the conversation whose event its last turn decided (or finished, or
        # resumed): that event is no longer "pending" (see `Dispatcher._scan`)
        self.decided: dict[str, str] = {}

    def run(self, key: str, owner: str) -> Ran:
        """Take the conversation's next event if it is ours to take, and carry it to the person."""
        self.decided.pop(owner, None)
        ckey = ConvKey.parse(key)
        channel = self.channels.get(ckey.channel)
        timer = None
        if channel is not None:
            timer = self.alarms.timer(self.loading_after, self._loading, channel, ckey)
        try:
            ran, ev, outbound = self.deciding.run(
                "turn", lambda conn: self._turn_or_fallback(key, ckey, channel, owner, timer, conn),
                self._turns_together)
            if ran.kind == "handled":
                self.decided[owner] = key
            if ev is not None and outbound is not None:
                assert channel is not None
                # its lease is held until the outcome is recorded
                self.sending[owner] = (key, time.time())
                try:
                    retry_at = self._send(ckey, ev, channel, outbound,
                                          None if ev.forget else owner, ev.forget)
                finally:
                    self.sending.pop(owner, None)
                if retry_at is not None:  # the conversation waits for this answer's retry
                    return Ran("wait", at=retry_at, outbox=ran.outbox)
            return ran
        except Contended:
            return Ran("held")
        except LeaseLost:
            logger.warning("conversation lease lost; another worker carries on")
            return Ran("handled")
        except Exception as exc:
            if not transient(exc):
                raise
            log_failure("database unavailable; the event stays in the inbox", exc)
            return Ran("wait", at=time.time() + 2.0)
        finally:
            if timer is not None:
                timer.cancel()

    def _turn_or_fallback(self, key: str, ckey: ConvKey, channel: Channel | None, owner: str,
                          timer: Alarm | None, conn: Any) -> tuple[Ran, QueuedEvent | None, Any]:
        """A turn (`conn`: one of a group's); if the event cannot be decided, alone, a turn
        that answers it with the fallback. In a group it fails the group instead, which
        runs each turn again alone."""
        try:
            return self._turn(key, ckey, channel, owner, timer, conn=conn)
        except _Poison:
            if conn is not None:
                raise
            return self._turn(key, ckey, channel, owner, None, fallback=True)

    def _turn(self, key: str, ckey: ConvKey, channel: Channel | None, owner: str,
              timer: Alarm | None, fallback: bool = False, conn: Any = None
              ) -> tuple[Ran, QueuedEvent | None, Any]:
        """One turn: decide (or resume) and commit (or, with `conn`, leave the commit to the
        group); return the event and what to send, if any."""
        now = time.time()
        with self.store.turn(key, owner, self.lease, now, 0.0 if fallback else self.reorder,
                             group=conn) as t:
            ev = t.event
            if ev is None:
                return Ran("held" if t.held else "wait" if t.wait_until else "idle",
                           at=t.wait_until or 0.0), None, None
            ran = Ran("handled", more=t.more)
            if channel is None:  # no adapter for it here (a channel since switched off)
                logger.error("event %s: no channel %r; dropped", ev.event_id, ckey.channel)
                t.finish("failed", "no such channel")
                return ran, None, None
            if ev.status != "pending":  # decided before: send it again, unless staff took over
                if self.desk is not None and self.desk.claimed(key):
                    logger.info("event %s: staff have the conversation; bot reply withheld",
                                ev.event_id)
                    t.finish("done")
                    return ran, None, None
                t.resume(now)
                return ran, ev, ev.outbound
            if timer is not None:
                timer.start()
            if fallback:
                try:
                    outbound = self._fallback(t, ev, channel)
                except Exception as exc:
                    if not transient(exc):
                        log_failure(f"event {ev.event_id} failed", exc)
                    raise
            else:
                outbound, ran.outbox = self._decide(t, ckey, ev, channel)
            ev.status, ev.sent_batches = "decided", 0
            return ran, ev, outbound if _sends(outbound, t.handoff) else None

    def _decide(self, t: Turn, key: ConvKey, ev: QueuedEvent, channel: Channel) -> tuple[Any, bool]:
        """Decide and write with "sending" (or "done"): committed, or left to the turn's group;
        raise _Poison if it cannot be decided."""
        try:
            return self._decided(t, key, ev, channel)
        except (Contended, LeaseLost):
            raise
        except Exception as exc:
            if transient(exc) or contended(exc):
                raise
            if not t.grouped:  # (in a group: said when the turn runs again alone)
                log_failure(f"event {ev.event_id} cannot be handled; answering with the "
                            "fallback", exc)
            raise _Poison from exc

    def _decided(self, t: Turn, key: ConvKey, ev: QueuedEvent,
                 channel: Channel) -> tuple[Any, bool]:
        engine = self.engine()
        assert engine is not None
        inbound = inbound_from(ev.inbound or {})
        skey = str(key)
        now = time.time()
        if inbound.kind == "unfollow":  # blocked us: nothing of theirs is kept
            ev.forget = True
            t.decide(None, None, send=False, now=now, forget=True,
                     effects=lambda conn: self.desk.deleted(conn, skey, "the person blocked the bot"))
            logger.info("event %s: all data of one conversation deleted", ev.event_id)
            return None, False
        view = self.desk.view_of(t.handoff, t.waiting, t.conn)
        outcome = engine.handle(t.conv, inbound, view)
        rendered = channel.render(outcome.reply, outcome.fired) if outcome.reply.messages else None
        ev.safety = any(f.startswith("interrupt:") for f in outcome.fired)
        deleting = DELETE in outcome.actions
        if deleting:
            ev.forget = True
            if rendered is not None:  # remembered for a retry of the send, too
                rendered["forget"] = True

        t.lock()  # decided: now write (on SQLite, others waited for none of the above)
        handoff = self.desk.carry_out(t.conn, key, outcome, t.handoff)
        if deleting:
            self.desk.deleted(t.conn, skey, "at the person's request")
        elif inbound.kind != "group":
            self.desk.record_turn(t.conn, skey, inbound, outcome, handoff)
        send = _sends(rendered, handoff)
        if rendered and not send:
            logger.info("event %s: staff have the conversation; bot reply withheld", ev.event_id)
        t.decide(outcome.conv, rendered, send=send, now=now, safety=ev.safety, forget=deleting)
        logger.info("event %s handled: state %s, fired %s, actions %s", ev.event_id,
                    outcome.conv.state, ",".join(outcome.fired) or "-",
                    ",".join(outcome.actions) or "-")
        return rendered, bool(outcome.actions)

    def _fallback(self, t: Turn, ev: QueuedEvent, channel: Channel) -> Any:
        engine = self.engine()
        assert engine is not None
        try:
            inbound = inbound_from(ev.inbound or {})
        except (KeyError, ValueError, TypeError):
            inbound = Inbound("other", datetime.now(timezone.utc))
        rendered = channel.render(fallback_reply(engine, inbound))
        ev.safety = True
        t.decide(None, rendered, send=True, now=time.time(), safety=True)
        return rendered

    def _send(self, key: ConvKey, ev: QueuedEvent, channel: Channel, outbound: Any,
              owner: str | None, forget: bool = False) -> float | None:
        """Send, and record the outcome; return when to try again if it failed for now."""
        delivery = Delivery(ev.event_id, dict(ev.delivery or {}), ev.received_at,
                            ev.sent_batches, ev.status == "sending", ev.safety, ev.attempts,
                            ev.sending_at)
        try:
            channel.send(key, delivery, outbound)
        except SendError as exc:
            with self.deciding:
                return self._failed(ev, owner, exc, delivery.data)
        except Exception as exc:  # a bug mid-send: whether it went out is unknown
            log_failure(f"event {ev.event_id}: send failed", exc)
            with self.deciding:
                return self._failed(ev, owner, SendError(type(exc).__name__, retry=True,
                                                         unknown=True, sent=delivery.sent),
                                    delivery.data)
        self.deciding.run("finish", lambda conn: self.store.finish(ev, owner, forget=forget,
                                                                     conn=conn),
                          self.store.together, clean=(LeaseLost,))
        return None

    def _failed(self, ev: QueuedEvent, owner: str | None, exc: SendError,
                delivery: dict[str, Any] | None = None) -> float | None:
        """Give up on the event, or schedule its retry and return when it is due."""
        age = time.time() - (ev.received_at or time.time())
        if not exc.retry or age > self.retry_for:
            logger.error("event %s given up after %d attempts: %s", ev.event_id, ev.attempts + 1,
                         exc)
            self.store.finish(ev, owner, "failed", str(exc), forget=ev.forget)
            return None
        delay = min(self.max_backoff, 2.0 ** min(ev.attempts + 1, 16))
        if exc.retry_after:
            delay = max(delay, min(exc.retry_after, 3600.0))
        logger.warning("event %s: %s; retrying in %.0f s", ev.event_id, exc, delay)
        at = time.time() + delay
        self.store.retry_later(ev, owner, at, str(exc), sent=exc.sent, unknown=exc.unknown,
                               delivery=delivery)
        return at

    def _loading(self, channel: Channel, key: ConvKey) -> None:
        try:
            channel.loading(key)
        except Exception:  # the animation is a courtesy; never let it fail an event
            logger.warning("loading animation failed for one conversation")


def _sends(outbound: Any, handoff: Handoff | None) -> bool:
    """Whether a decided reply goes out now: it has messages and staff have not claimed the
    conversation (as the turn read it: a claim takes the lease, which the turn's writes
    check, so a claim made since the read makes the turn write nothing)."""
    claimed = handoff is not None and handoff.status == "claimed"
    return bool(outbound and outbound.get("batches")) and not claimed
