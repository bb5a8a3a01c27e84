"""The staff desk: the queue, the transcript, staff replies, and giving conversations back.

Shared by the dispatcher (which carries out what the engine decided) and the
console (where operators act). Whoever holds a conversation's lease acts on
it alone, so a claim can never interleave with a bot reply being sent.
"""
from __future__ import annotations

import hashlib
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from .dispatch import SendError
from .engine import ConvKey, Engine, Inbound, Outcome, Reply, Text
from .engine.handoff import ALERT, CANCEL, REQUEST, DeskView
from .engine.limits import MESSAGES_MAX
from .notify import SlackNotifier
from .store import Handoff, Line, Store

logger = logging.getLogger(__name__)
PRIORITY = {"danger": 1, "crisis": 2}
CLAIM_WAIT = 3.0  # seconds a claim waits for the bot to finish a reply in flight


class StaffReplyError(ValueError):
    """A staff reply that cannot be sent as written (empty, or too long for one push)."""


def pseudonym(key: str) -> str:
    """A stable stand-in for a conversation key, for what outlives its deletion."""
    return "deleted:" + hashlib.sha256(key.encode()).hexdigest()[:16]


class Desk:
    """Handoffs between the bot and staff."""

    def __init__(self, store: Store, channels: dict[str, Any], notifier: SlackNotifier,
                 engine: Callable[[], Engine | None], show_profile: bool = False,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.store, self.channels, self.notifier = store, channels, notifier
        self.engine, self.show_profile = engine, show_profile
        self.clock = clock  # "now" for what staff do (LINE events carry their own time)

    # -- the dispatcher's side ---------------------------------------------------

    def view(self, key: str) -> tuple[Handoff | None, DeskView]:
        """The open handoff, and what the engine may know of it."""
        handoff = self.store.handoffs.open_for(key)
        if handoff is None:  # most events: one COUNT, not the whole queue
            return None, DeskView(None, self.store.handoffs.waiting())
        return handoff, DeskView(handoff.status, self.store.handoffs.ahead_of(handoff))

    def claimed(self, key: str) -> bool:
        """Staff have this conversation: the bot must not send anything of its own."""
        handoff = self.store.handoffs.open_for(key)
        return handoff is not None and handoff.status == "claimed"

    def record_turn(self, key: str, inbound: Inbound, outcome: Outcome,
                    handoff: Handoff | None) -> None:
        """Keep the person's message and the bot's answer in the transcript."""
        engine = self.engine()
        said = engine.describe(inbound) if engine else inbound.text
        hid = handoff.id if handoff else None
        if said:
            self.store.handoffs.record(key, "in", said, inbound.at.timestamp(), handoff_id=hid)
        for text in outcome.reply.texts():  # the answer to that message, at its time
            self.store.handoffs.record(key, "bot", text, inbound.at.timestamp(), handoff_id=hid)

    def carry_out(self, key: ConvKey, outcome: Outcome, handoff: Handoff | None) -> Handoff | None:
        """Do what the engine asked: queue, cancel, raise an alert (deletion comes after sending)."""
        skey = str(key)
        for action in outcome.actions:
            if action == REQUEST:
                priority = max([PRIORITY[f] for f in PRIORITY if outcome.conv.flags.get(f)] or [0])
                handoff, new = self.store.handoffs.request(skey, priority)
                if new:
                    self.store.handoffs.audit(None, "requested", skey, handoff.id, f"priority {priority}")
                    self._announce("new", handoff)
                    self._fetch_name(key, handoff)
            elif action == CANCEL and handoff:
                if self.store.handoffs.end(handoff.id, "cancelled", "person"):
                    self.store.handoffs.audit(None, "cancelled", skey, handoff.id)
                handoff = None
            elif action.startswith(ALERT) and handoff:
                kind = action[len(ALERT):]
                self.store.handoffs.raise_priority(handoff.id, PRIORITY[kind])
                self.store.handoffs.audit(None, "alert", skey, handoff.id, kind)
                self._announce("alert", self.store.handoffs.get(handoff.id))
        return handoff

    def delete_everything(self, key: str, why: str) -> None:
        """Delete all stored for a person, and audit that without content."""
        self.store.forget(key)
        self.store.handoffs.pseudonymize(key, pseudonym(key))
        self.store.handoffs.audit(None, "deleted", pseudonym(key), None, why)
        logger.info("all data of one conversation deleted: %s", why)

    def _announce(self, event: str, handoff: Handoff) -> None:
        position = self.store.handoffs.ahead_of(handoff) + 1 if handoff.status == "waiting" else 0
        self.notifier.announce(event, handoff.id, position, handoff.priority)

    def _fetch_name(self, key: ConvKey, handoff: Handoff) -> None:
        channel = self.channels.get(key.channel)
        if self.show_profile and channel is not None and hasattr(channel, "display_name"):
            name = channel.display_name(key.user)
            if name:
                self.store.handoffs.set_display_name(handoff.id, name)

    # -- the console's side --------------------------------------------------------

    def claim(self, handoff: Handoff, operator: str, takeover: bool = False) -> str:
        """Claim for `operator`, after any bot reply in flight has been sent."""
        owner = f"console:{operator}:{uuid.uuid4().hex[:6]}"
        deadline = time.time() + CLAIM_WAIT
        leased = self.store.acquire(handoff.conv_key, owner, 10, time.time())
        while not leased and time.time() < deadline:
            time.sleep(0.05)
            leased = self.store.acquire(handoff.conv_key, owner, 10, time.time())
        try:
            result = self.store.handoffs.claim(handoff.id, operator, takeover)
        finally:
            if leased:
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
        batches = self._channel(handoff).render(Reply([Text(text)]))
        if len(batches) != 1 or len(batches[0]) > MESSAGES_MAX:
            raise StaffReplyError("too long for one LINE message request; please split it")
        line_id = self.store.handoffs.record(handoff.conv_key, "staff", text, self.clock().timestamp(),
                                             handoff_id=handoff.id, operator=operator,
                                             status="pending", retry_key=str(uuid.uuid4()))
        self.store.handoffs.audit(operator, "replied", handoff.conv_key, handoff.id)
        return self._push(handoff, self.store.handoffs.line(line_id))

    def resend(self, handoff: Handoff, line: Line, operator: str) -> Line:
        """Send a failed staff reply again, with the same retry key (never delivered twice)."""
        self.store.handoffs.audit(operator, "resent", handoff.conv_key, handoff.id)
        return self._push(handoff, line)

    def _push(self, handoff: Handoff, line: Line) -> Line:
        channel = self._channel(handoff)
        batch = channel.render(Reply([Text(line.text)]))[0]
        try:
            channel.push(ConvKey.parse(handoff.conv_key).user, batch, line.retry_key)
            self.store.handoffs.mark(line.id, "sent")
        except SendError as exc:
            logger.warning("staff reply %s not delivered: %s", line.id, exc)
            self.store.handoffs.mark(line.id, "failed", str(exc))
        return self.store.handoffs.line(line.id)

    def note(self, handoff: Handoff, operator: str, text: str) -> None:
        """An internal note: staff see it, the person never does."""
        if text.strip():
            self.store.handoffs.record(handoff.conv_key, "note", text.strip(), self.clock().timestamp(),
                                       handoff_id=handoff.id, operator=operator)
            self.store.handoffs.audit(operator, "noted", handoff.conv_key, handoff.id)

    def finish(self, handoff: Handoff, operator: str, how: str) -> str | None:
        """Return the conversation to the bot ("returned") or close it ("closed").

        The person is told and the bot starts again from the beginning. Returns an
        error to show the operator if the message could not be delivered.
        """
        if not self.store.handoffs.end(handoff.id, how, operator):
            return "this conversation had already ended"
        self.store.handoffs.audit(operator, how, handoff.conv_key, handoff.id)
        engine = self.engine()
        if engine is None:
            return "the content has errors: the person was not told"
        conv, reply = engine.resumed(self.store.load(handoff.conv_key), self.clock(), how)
        self.store.save(handoff.conv_key, conv)
        channel = self._channel(handoff)
        for text in reply.texts():
            self.store.handoffs.record(handoff.conv_key, "bot", text, self.clock().timestamp(),
                                       handoff_id=handoff.id)
        try:
            for i, batch in enumerate(channel.render(reply)):
                key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"handoff:{handoff.id}:{how}:{i}"))
                channel.push(ConvKey.parse(handoff.conv_key).user, batch, key)
        except SendError as exc:
            logger.warning("handoff %s: the person was not told (%s)", handoff.id, exc)
            return f"the person could not be told: {exc}"
        return None

    def _channel(self, handoff: Handoff) -> Any:
        return self.channels[ConvKey.parse(handoff.conv_key).channel]

