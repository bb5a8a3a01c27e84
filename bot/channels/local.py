"""The local channel: the terminal chat and the simulator, through the same core as LINE.

What a person does here becomes an event in the inbox, handled by the same
dispatcher, engine and desk as a LINE event (so asking for staff really queues
a request, and the console can answer). "Delivering" stores the rendered
messages, exactly as LINE would receive them, in `local_messages`, where the
chat and the simulator read them back; a staff reply arrives the same way.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..engine import ContactCard, ConvKey, Reply
from ..store import QueuedEvent, Store
from ..store.schema import local_messages
from .base import Batch, Delivery, Outbound, retry_key, stored_inbound
from .line.plain import message_text
from .line.render import render

CHANNEL = "local"


@dataclass(frozen=True)
class Delivered:
    """One request's worth of messages the local channel delivered, with what produced it."""

    id: int
    messages: list[dict[str, Any]]
    fired: list[str]
    windows: list[dict[str, Any]]
    pushed: bool  # sent unprompted (a staff reply, a return to the bot)

    def texts(self) -> list[str]:
        """The messages as compact text (cards with their numbers), as the terminal shows them."""
        return [message_text(m) for m in self.messages]

    def buttons(self) -> list[dict[str, str]]:
        """The quick-reply buttons under the last message: label, data, text."""
        items = self.messages[-1].get("quickReply", {}).get("items", []) if self.messages else []
        return [{"label": i["action"]["label"], "data": i["action"]["data"],
                 "text": i["action"].get("displayText", i["action"]["label"])} for i in items]


class LocalChannel:
    """Renders as LINE does, and delivers into the database."""

    name = CHANNEL

    def __init__(self, store: Store):
        self.store = store

    def render(self, reply: Reply, fired: Sequence[str] = ()) -> Outbound:
        """LINE's rendering, plus what the simulator shows beside it."""
        windows = [{"id": m.contact_id, "title": m.title, "open_now": m.open_now}
                   for m in reply.messages if isinstance(m, ContactCard)]
        return {"batches": render(reply), "fired": list(fired), "windows": windows}

    def send(self, key: ConvKey, delivery: Delivery, outbound: Outbound) -> None:
        """Store each batch once (a retried send finds it stored)."""
        for i, batch in enumerate(outbound["batches"][delivery.sent:], delivery.sent):
            self._store(key, {"messages": batch, "fired": outbound.get("fired", []),
                              "windows": outbound.get("windows", [])},
                        retry_key(delivery.event_id, i))

    def push(self, key: ConvKey, batch: Batch, retry_key: str) -> None:
        """Store an unprompted batch once per retry key."""
        self._store(key, {"messages": batch, "pushed": True}, retry_key)

    def loading(self, key: ConvKey) -> None:
        """Nothing to show: answers here are quick."""

    def profile(self, key: ConvKey) -> str | None:
        """The local channel knows no names."""
        return None

    def mark_read(self, key: ConvKey, receipt: str) -> None:
        """Nothing to mark: the chat and the simulator show no 既読."""

    def _store(self, key: ConvKey, payload: dict[str, Any], rkey: str) -> None:
        try:
            with self.store.engine.begin() as conn:
                conn.execute(local_messages.insert().values(conv_key=str(key), at=time.time(),
                                                            payload=payload, retry_key=rkey))
        except IntegrityError:
            pass  # this retry key was stored before: delivered already

    def delivered(self, key: ConvKey, after: int = 0) -> list[Delivered]:
        """What was delivered to this conversation after id `after`, oldest first."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(local_messages).where(
                local_messages.c.conv_key == str(key), local_messages.c.id > after)
                .order_by(local_messages.c.id)).all()
        return [Delivered(r.id, list(r.payload["messages"]), list(r.payload.get("fired", [])),
                          list(r.payload.get("windows", [])), bool(r.payload.get("pushed")))
                for r in rows]

    def last_id(self, key: ConvKey) -> int:
        """The id of the latest delivery to this conversation (0 if none)."""
        found = self.delivered(key)
        return found[-1].id if found else 0


class LocalConversation:
    """One person on the local channel: what they do goes through the inbox and dispatcher."""

    def __init__(self, services: Any, user: str):
        self.services, self.key = services, ConvKey(CHANNEL, user)
        self.channel: LocalChannel = services.channels[CHANNEL]

    def act(self, kind: str, at: datetime, text: str = "", data: str = "",
            timeout: float = 15.0) -> list[Delivered]:
        """Do one thing at time `at`; return what was delivered since (the answer)."""
        after = self.channel.last_id(self.key)
        ts_ms = int(at.timestamp() * 1000)
        event_id = f"local-{uuid.uuid4().hex}"
        self.services.store.enqueue([QueuedEvent(event_id, str(self.key), ts_ms,
                                                 stored_inbound(kind, ts_ms, text, data), {})])
        self.services.dispatcher.handle_now(str(self.key), event_id, timeout)
        return self.channel.delivered(self.key, after)

    def since(self, after: int) -> list[Delivered]:
        """Deliveries after id `after` (staff replies arrive this way)."""
        return self.channel.delivered(self.key, after)
