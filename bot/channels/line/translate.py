"""LINE webhook events into the engine's inbound form, ready for the inbox.

An event that cannot be stored as it is (an id that is not printable ASCII or
too long, a time outside the calendar) is skipped with a warning; the other
events of the same request are kept. Text is cleaned by the inbound codec.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from linebot.v3.webhooks import (Event, FollowEvent, GroupSource, JoinEvent, LeaveEvent,
                                 MessageEvent, PostbackEvent, RoomSource, TextMessageContent,
                                 UnfollowEvent, UserSource)

from ...engine import ConvKey
from ...store import QueuedEvent
from ..base import stored_inbound
from . import CHANNEL

logger = logging.getLogger(__name__)
_ID = re.compile(r"[\x21-\x7e]{1,100}")  # LINE's ids are short ASCII; anything else is forged


def _chat_id(event: Event) -> tuple[str | None, bool]:
    """The id we talk to (user, group or room) and whether it is a shared chat."""
    source = event.source
    if isinstance(source, UserSource):
        return source.user_id, False
    if isinstance(source, GroupSource):
        return source.group_id, True
    if isinstance(source, RoomSource):
        return source.room_id, True
    return None, False


def _kind(event: Event, shared: bool) -> tuple[str, dict[str, Any]] | None:
    if shared:
        if isinstance(event, (MessageEvent, PostbackEvent, JoinEvent)):
            return "group", {}
        return ("unfollow", {}) if isinstance(event, LeaveEvent) else None
    if isinstance(event, FollowEvent):
        return "follow", {}
    if isinstance(event, UnfollowEvent):
        return "unfollow", {}
    if isinstance(event, PostbackEvent):
        return "button", {"data": event.postback.data}
    if isinstance(event, MessageEvent):
        # With chat on, LINE shows 既読 only when we mark the message read (see sender.py).
        receipt = getattr(event.message, "mark_as_read_token", None) or ""
        if isinstance(event.message, TextMessageContent):
            return "text", {"text": event.message.text, "receipt": receipt}
        return "other", {"receipt": receipt}
    return None


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def translate(event: Event) -> QueuedEvent | None:
    """Turn one LINE event into an inbox entry, or None for events we ignore or cannot store.

    Standby events (another channel owns the chat) and unknown types are ignored.
    """
    event_id = getattr(event, "webhook_event_id", None)
    if getattr(event, "mode", None) != "active" or not event_id:
        return None
    chat_id, shared = _chat_id(event)
    kind = _kind(event, shared) if chat_id else None
    if kind is None or chat_id is None:
        return None
    reply_token = getattr(event, "reply_token", None)
    if not (_valid_id(event_id) and _valid_id(chat_id)) or (reply_token and not _valid_id(reply_token)):
        logger.warning("event skipped: an id is not what LINE sends")
        return None
    name, fields = kind
    try:
        inbound = stored_inbound(name, event.timestamp, **fields)
    except ValueError:
        logger.warning("event %s skipped: its timestamp is not a real time", event_id)
        return None
    delivery = {"reply_token": reply_token} if reply_token else {}
    if inbound.get("receipt"):
        delivery["read_token"] = inbound["receipt"]
    return QueuedEvent(event_id, str(ConvKey(CHANNEL, chat_id)), event.timestamp, inbound, delivery)
