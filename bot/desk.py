"""The staff desk: the queue, the transcript, staff replies, and giving conversations back.

Shared by the dispatcher (which carries out what the engine decided, inside the
decision's transaction) and the console (where operators act). Whoever holds a
conversation's lease acts on it alone: a claim or a return waits for a bot
reply being sent, and a turn that read the conversation before a claim writes
nothing (its writes check the lease as read, see `store/turn.py`).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import Connection

from .channels.base import Channel, SendError, retry_key
from .engine import ConvKey, Engine, Inbound, Outcome, Reply, Text
from .engine.handoff import ALERT, CANCEL, REQUEST, DeskView
from .store import Handoff, LeaseLost, Line, QueuedEvent, Store

logger = logging.getLogger(__name__)
PRIORITY = {"danger": 1, "crisis": 2}
CLAIM_WAIT = 3.0  # seconds a claim or a return waits for the bot to finish a reply in flight


class StaffReplyError(ValueError):
    """A staff reply that cannot be sent as written (empty, or too long for one push)."""


class Desk:
    """Handoffs between the bot and staff."""

    def __init__(self, store: Store, channels: dict[str, Channel],
                 engine: Callable[[], Engine | None], *, secret: str, show_profile: bool = False,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.store, self.channels, self.engine = store, channels, engine
        self.secret, self.show_profile = secret.encode(), show_profile
        self.clock = clock  # "now" for what staff do (LINE events carry their own time)

    def pseudonym(self, key: str, length: int = 16) -> str:
        """A stable stand-in for a conversation key that no one without the secret can link."""
        return hmac.new(self.secret, key.encode(), hashlib.sha256).hexdigest()[:length]

    # -- the dispatcher's side (inside the decision's transaction) --------------------

    def view(self, key: str) -> tuple[Handoff | None, DeskView]:
        """The open handoff, and what the engine may know of it."""
        handoff = self.store.handoffs.open_for(key)
        if handoff is None:  # most events: one COUNT, not the whole queue
            return None, DeskView(None, self.store.handoffs.waiting())
        return handoff, DeskView(handoff.status, self.store.handoffs.ahead_of(handoff))

    def view_of(self, handoff: Handoff | None, waiting: int, conn: Connection) -> DeskView:
        """What the engine may know of the desk, from what a turn read (`Store.turn`)."""
        if handoff is None:
            return DeskView(None, waiting)
        return DeskView(handoff.status, self.store.handoffs.ahead_of(handoff, conn))

    def claimed(self, key: str) -> bool:
        """Staff have this conversation: the bot must not send anything of its own."""
        handoff = self.store.handoffs.open_for(key)
        return handoff is not None and handoff.status == "claimed"

    def record_turn(self, conn: Connection, key: str, inbound: Inbound, outcome: Outcome,
                    handoff: Handoff | None) -> None:
        """Keep the person's message and the bot's answer in the transcript."""
        engine = self.engine()
        said = engine.describe(inbound) if engine else inbound.text
        lines = [("in", said)] if said else []
        lines += [("bot", text) for text in outcome.reply.texts()]  # the answer, at its time
        self.store.handoffs.record_many(conn, key, lines, inbound.at.timestamp(),
                                        handoff.id if handoff else None)

    def carry_out(self, conn: Connection, key: ConvKey, outcome: Outcome,
                  handoff: Handoff | None) -> Handoff | None:
        """Do what the engine asked: queue, cancel, raise an alert; calls out go to the outbox."""
        skey, handoffs = str(key), self.store.handoffs
        for action in outcome.actions:
            if action == REQUEST:
                priority = max([PRIORITY[f] for f in PRIORITY if outcome.conv.flags.get(f)] or [0])
                handoff, new = handoffs.request(skey, priority, conn=conn)
                if new:
                    handoffs.audit(None, "requested", skey, handoff.id, f"priority {priority}",
                                   conn=conn)
                    self.store.outbox.add(conn, "slack", {"event": "new", "handoff": handoff.id})
                    if self.show_profile:
                        self.store.outbox.add(conn, "profile", {"handoff": handoff.id})
            elif action == CANCEL and handoff:
                if handoffs.end(handoff.id, "cancelled", "person", conn=conn):
                    handoffs.audit(None, "cancelled", skey, handoff.id, conn=conn)
                handoff = None
            elif action.startswith(ALERT) and handoff:
                kind = action[len(ALERT):]
                handoffs.raise_priority(handoff.id, PRIORITY[kind], conn=conn)
                handoffs.audit(None, "alert", skey, handoff.id, kind, conn=conn)
                self.store.outbox.add(conn, "slack", {"event": "alert", "handoff": handoff.id})
        return handoff

    def deleted(self, conn: Connection, key: str, why: str) -> None:
        """Unlink the audit log from a person being deleted, and audit that, without content."""
        pseudonym = "deleted:" + self.pseudonym(key)
        self.store.handoffs.pseudonymize(key, pseudonym, conn=conn)
        self.store.handoffs.audit(None, "deleted", pseudonym, None, why, conn=conn)

    def stuck(self, events: list[QueuedEvent]) -> None:
        """Tell staff once that answers are not getting through (no content, no ids)."""
        with self.store.engine.begin() as conn:
            self.store.outbox.add(conn, "slack", {"event": "stuck", "count": len(events)})
        self.store.mark_alerted([e.event_id for e in events])
        logger.error("%d answers undelivered for a while; staff alerted", len(events))

    # -- the console's side --------------------------------------------------------

    def _leased(self, key: str, operator: str) -> str | None:
        """Take the conversation's lease for an operator's action, waiting for a reply in flight."""
        owner = f"console:{operator}:{uuid.uuid4().hex[:6]}"
        deadline = time.time() + CLAIM_WAIT
        while not self.store.acquire(key, owner, 30, time.time()):
            if time.time() >= deadline:
                return None
            time.sleep(0.05)
        return owner

    def claim(self, handoff: Handoff, operator: str, takeover: bool = False) -> str:
        """Claim for `operator`, after any bot reply in flight has been sent."""
        owner = self._leased(handoff.conv_key, operator)
        try:
            result = self.store.handoffs.claim(handoff.id, operator, takeover)
        finally:
            if owner:
                self.store.release(handoff.conv_key, owner)
        if result in ("claimed", "taken_over"):
            action = "took_over" if result == "taken_over" else "claimed"
            detail = f"from {handoff.claimed_by}" if result == "taken_over" else None
            self.store.handoffs.audit(operator, action, handoff.conv_key, handoff.id, detail)
        return result

    def reply(self, handoff: Handoff, operator: str, text: str) -> Line:
        """Send a staff reply by push; a failed one is kept, marked, for a resend."""
        text = text.strip()
        if not text:
            raise StaffReplyError("empty reply")
        if len(self._channel(handoff).render(Reply([Text(text)]))["batches"]) != 1:
            raise StaffReplyError("too long for one message request; please split it")
        line_id = self.store.handoffs.record(
            handoff.conv_key, "staff", text, self.clock().timestamp(), handoff_id=handoff.id,
            operator=operator, status="pending",
            retry_key=retry_key("staff", handoff.id, uuid.uuid4().hex))
        self.store.handoffs.audit(operator, "replied", handoff.conv_key, handoff.id)
        return self._push(handoff, line_id)

    def resend(self, handoff: Handoff, line: Line, operator: str) -> Line:
        """Send a failed staff reply again, with the same retry key (never delivered twice)."""
        self.store.handoffs.audit(operator, "resent", handoff.conv_key, handoff.id)
        return self._push(handoff, line.id)

    def _push(self, handoff: Handoff, line_id: int) -> Line:
        line = self.store.handoffs.line(line_id)
        assert line is not None and line.retry_key is not None
        channel = self._channel(handoff)
        batch = channel.render(Reply([Text(line.text)]))["batches"][0]
        try:
            channel.push(ConvKey.parse(handoff.conv_key), batch, line.retry_key)
            self.store.handoffs.mark(line.id, "sent")
            self._mark_read(handoff, channel)
        except SendError as exc:
            logger.warning("staff reply %s not delivered: %s", line.id, exc)
            self.store.handoffs.mark(line.id, "failed", str(exc))
        sent = self.store.handoffs.line(line.id)
        assert sent is not None
        return sent

    def _mark_read(self, handoff: Handoff, channel: Channel) -> None:
        """Staff answered: the messages they read now show as read (LINE's chat mode)."""
        conv = self.store.load(handoff.conv_key)
        receipt = conv.flags.get("unread") if conv else None
        if receipt:
            channel.mark_read(ConvKey.parse(handoff.conv_key), str(receipt))

    def note(self, handoff: Handoff, operator: str, text: str) -> None:
        """An internal note: staff see it, the person never does."""
        if text.strip():
            self.store.handoffs.record(handoff.conv_key, "note", text.strip(),
                                       self.clock().timestamp(), handoff_id=handoff.id,
                                       operator=operator)
            self.store.handoffs.audit(operator, "noted", handoff.conv_key, handoff.id)

    def finish(self, handoff: Handoff, operator: str, how: str) -> str | None:
        """Return the conversation to the bot ("returned") or close it ("closed").

        Under the conversation's lease, as a claim: the handoff ends and the bot's
        fresh start is saved in one transaction, so a message arriving meanwhile is
        handled after it, never against the old state. The person is told. Returns
        an error to show the operator, or None.
        """
        engine = self.engine()
        if engine is None:
            return "the content has errors: try again once it is fixed"
        key = handoff.conv_key
        owner = self._leased(key, operator)
        if owner is None:
            return "the bot is still answering this person: please try again"
        try:
            return self._finish_leased(handoff, operator, how, engine, owner)
        except LeaseLost:
            return "the bot is still answering this person: please try again"
        finally:
            self.store.release(key, owner)

    def _finish_leased(self, handoff: Handoff, operator: str, how: str, engine: Engine,
                       owner: str) -> str | None:
        key, now = handoff.conv_key, self.clock()
        before = self.store.load(key)
        unread = before.flags.get("unread") if before else None
        conv, reply = engine.handoff.resumed(before, now, how)
        conv.flags.pop("unread", None)
        ended: list[bool] = []

        def effects(conn: Connection) -> None:
            ended.append(self.store.handoffs.end(handoff.id, how, operator, conn=conn))
            if not ended[0]:
                raise _AlreadyEnded
            self.store.handoffs.audit(operator, how, key, handoff.id, conn=conn)
            for text in reply.texts():
                self.store.handoffs.record(key, "bot", text, now.timestamp(),
                                           handoff_id=handoff.id, conn=conn)

        try:
            self.store.save_leased(key, owner, conv, effects)
        except _AlreadyEnded:
            return "this conversation had already ended"
        channel = self._channel(handoff)
        try:
            for i, batch in enumerate(channel.render(reply)["batches"]):
                channel.push(ConvKey.parse(key), batch, retry_key("handoff", handoff.id, how, i))
        except SendError as exc:
            logger.warning("handoff %s: the person was not told (%s)", handoff.id, exc)
            return f"the person could not be told: {exc}"
        if unread:  # staff saw them before giving the conversation back
            channel.mark_read(ConvKey.parse(key), str(unread))
        return None

    def _channel(self, handoff: Handoff) -> Channel:
        return self.channels[ConvKey.parse(handoff.conv_key).channel]


class _AlreadyEnded(Exception):
    """Raised inside the return's transaction to undo it: someone ended the handoff first."""
