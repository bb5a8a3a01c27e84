"""What every channel shares: the Channel interface, SendError, and the codecs.

The dispatcher and the desk speak to a platform only through `Channel`; a
platform's adapter (LINE, or the local one for the terminal chat and the
simulator) implements it. No platform SDK is imported here.

- The inbound codec turns what a platform delivered into the stored form of an
  engine `Inbound`, with text made safe to store (no lone surrogates, no NUL or
  other control characters), and back.
- The postback codec is the engine's (`bot.engine.postback`), re-exported here
  for adapters that need it.
- `retry_key` is the one way a repeatable send is named: the same parts give the
  same key, so a platform that deduplicates on it delivers a retried send once.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, Sequence

from ..engine.postback import Postback
from ..engine.types import ConvKey, Inbound, Reply

__all__ = ["Batch", "Channel", "Delivery", "Outbound", "Postback", "SendError", "clean_text",
           "inbound_from", "retry_key", "stored_inbound"]

Batch = list[dict[str, Any]]          # one request's worth of rendered messages
Outbound = dict[str, Any]             # {"batches": [Batch, ...], ...channel extras}

RETRY_NAMESPACE = uuid.UUID("6f1c1c52-6f0e-4d8e-9a55-2d1b3f0c7a10")
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
TEXT_MAX = 5000  # longer inbound text is cut: LINE sends at most 5000 characters


class SendError(Exception):
    """Sending failed.

    `retry`: trying again later may help. `retry_after`: the platform asked us to
    wait this many seconds. `sent`: how many batches were delivered before the
    failure. `unknown`: the request may have reached the platform (a timeout).
    """

    def __init__(self, message: str, retry: bool, *, retry_after: float | None = None,
                 sent: int = 0, unknown: bool = False):
        super().__init__(message)
        self.retry, self.retry_after, self.sent, self.unknown = retry, retry_after, sent, unknown


@dataclass
class Delivery:
    """What a channel needs to deliver one event's answer, and how far it got before."""

    event_id: str
    data: dict[str, Any] = field(default_factory=dict)  # the platform's (a reply token)
    received_at: float = 0.0
    sent: int = 0              # batches already delivered
    unknown: bool = False      # the last attempt's outcome is unknown (crash, timeout)
    safety: bool = False       # the answer carries crisis or danger help
    attempts: int = 0
    sending_at: float | None = None  # when the last attempt began


class Channel(Protocol):
    """A platform adapter, as the dispatcher and the desk use it."""

    name: str

    def render(self, reply: Reply, fired: Sequence[str] = ()) -> Outbound:
        """The reply in the platform's form, split into request-sized batches."""

    def send(self, key: ConvKey, delivery: Delivery, outbound: Outbound) -> None:
        """Deliver an event's answer, from batch `delivery.sent` on; raise SendError."""

    def push(self, key: ConvKey, batch: Batch, retry_key: str) -> None:
        """Send one batch unprompted (staff replies); the same key never delivers twice."""

    def loading(self, key: ConvKey) -> None:
        """Show that an answer is coming (a courtesy; may do nothing)."""

    def profile(self, key: ConvKey) -> str | None:
        """The person's display name on the platform, if it has one."""

    def mark_read(self, key: ConvKey, receipt: str) -> None:
        """Show the person their messages up to this one as read (a courtesy; may do nothing)."""


def retry_key(*parts: object) -> str:
    """The one retry-key scheme: a UUID derived from what is being sent."""
    return str(uuid.uuid5(RETRY_NAMESPACE, ":".join(str(p) for p in parts)))


def clean_text(text: str, limit: int = TEXT_MAX) -> str:
    """Text as it can be stored anywhere: no lone surrogates, NUL or control characters."""
    return _UNSAFE.sub("\ufffd", text)[:limit]


def stored_inbound(kind: str, ts_ms: int, text: str = "", data: str = "",
                   receipt: str = "") -> dict[str, Any]:
    """The stored form of an inbound, with the event time as 'now'; text is cleaned.

    `receipt` is what the platform needs to show the message as read (LINE's
    markAsReadToken), kept only when there is one.

    Raises ValueError for a time that is not a real date (the event is then skipped).
    """
    try:
        at = datetime.fromtimestamp(ts_ms / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError("timestamp out of range") from exc
    stored = {"kind": kind, "at": at.isoformat(), "text": clean_text(text),
              "data": clean_text(data, 300)}
    if receipt:
        stored["receipt"] = clean_text(receipt, 300)
    return stored


def inbound_from(data: dict[str, Any]) -> Inbound:
    """Rebuild an engine inbound from its stored form."""
    return Inbound(data["kind"], datetime.fromisoformat(data["at"]), data.get("text", ""),
                   data.get("data", ""), data.get("receipt", ""))
