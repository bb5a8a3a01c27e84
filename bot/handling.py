"""Handling one event: decide, record "sending", send, record "done" (or retry, or fall back).

The dispatcher takes a conversation's lease and hands its due events here, one
at a time. Each step's write is guarded by the lease owner; see `dispatch.py`
for the whole picture and `channels/line/sender.py` for how an unknown outcome
is resolved.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
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


class EventHandler:
    """Carries one event from the inbox to the person."""

    def __init__(self, store: Store, engine: Callable[[], Engine | None],
                 channels: dict[str, Channel], desk: Any, *, loading_after: float = 1.0,
                 retry_for: float = 24 * 3600, max_backoff: float = 300.0):
        self.store, self.engine, self.channels, self.desk = store, engine, channels, desk
        self.loading_after, self.retry_for, self.max_backoff = loading_after, retry_for, max_backoff

    def process(self, key: ConvKey, ev: QueuedEvent, owner: str | None) -> None:
        """Decide (if not done before), send, and record the outcome; never raises."""
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
