"""LINE webhook events into the engine's inbound form, ready for the inbox."""
from __future__ import annotations

from typing import Any

from linebot.v3.webhooks import (Event, FollowEvent, GroupSource, JoinEvent, LeaveEvent,
                                 MessageEvent, PostbackEvent, RoomSource, TextMessageContent,
                                 UnfollowEvent, UserSource)

from ...dispatch import stored_inbound
from ...engine import ConvKey
from ...store import QueuedEvent

CHANNEL = "line"


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
        if isinstance(event.message, TextMessageContent):
            return "text", {"text": event.message.text}
        return "other", {}
    return None


def translate(event: Event) -> QueuedEvent | None:
    """Turn one LINE event into an inbox entry, or None for events we ignore.

    Standby events (another channel owns the chat) and unknown types are ignored.
    """
    if getattr(event, "mode", None) != "active" or not getattr(event, "webhook_event_id", None):
        return None
    chat_id, shared = _chat_id(event)
    kind = _kind(event, shared) if chat_id else None
    if kind is None:
        return None
    name, fields = kind
    reply_token = getattr(event, "reply_token", None)
    return QueuedEvent(event.webhook_event_id, str(ConvKey(CHANNEL, chat_id)), event.timestamp,
                       stored_inbound(name, event.timestamp, **fields),
                       {"reply_token": reply_token} if reply_token else {})
