"""LINE webhook events (decoded JSON) into the engine's inbound form, ready for the inbox.

This runs on the webhook's answer path, so it reads the few fields the bot uses
straight from the decoded JSON, checking each one's type, instead of building
line-bot-sdk's webhook models: those validate every field of every event, and
were a third of the CPU an acknowledgement cost. The field names are LINE's
webhook reference (https://developers.line.biz/en/reference/messaging-api/#webhook-event-objects).

An event that cannot be stored as it is (a field of the wrong type, an id that
is not printable ASCII or too long, a time outside the calendar) is skipped
with a warning; the other events of the same request are kept. Unknown event
types and standby events (another channel owns the chat) are ignored. Text is
cleaned by the inbound codec.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from ...engine import ConvKey
from ...store import QueuedEvent
from ..base import stored_inbound
from . import CHANNEL

logger = logging.getLogger(__name__)
_ID = re.compile(r"[\x21-\x7e]{1,100}")  # LINE's ids are short ASCII; anything else is forged
_CHAT_ID = {"user": "userId", "group": "groupId", "room": "roomId"}  # source type: its id field
_ONE_TO_ONE = {"follow", "unfollow", "postback", "message"}
_SHARED = {"message": "group", "postback": "group", "join": "group", "leave": "unfollow"}


class _Skip(Exception):
    """This event cannot be stored; the reason is logged."""


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Skip(f"{what} is not a string")
    return value


def _chat_id(source: Any) -> tuple[str | None, bool]:
    """The id we talk to (user, group or room) and whether it is a shared chat."""
    kind = source.get("type") if isinstance(source, dict) else None
    field = _CHAT_ID.get(kind) if isinstance(kind, str) else None
    if field is None:
        return None, False
    return _str(source.get(field), "the source id"), field != "userId"


def _kind(event: dict[str, Any], type_: str, shared: bool) -> tuple[str, dict[str, Any]] | None:
    if shared:
        kind = _SHARED.get(type_)
        return (kind, {}) if kind else None
    if type_ not in _ONE_TO_ONE:
        return None
    if type_ in ("follow", "unfollow"):
        return type_, {}
    if type_ == "postback":
        postback = event.get("postback")
        return "button", {"data": _str(postback.get("data") if isinstance(postback, dict)
                                       else None, "postback data")}
    message = event.get("message")
    if not isinstance(message, dict):
        raise _Skip("the message is not an object")
    # With chat on, LINE shows 既読 only when we mark the message read (see sender.py).
    receipt = message.get("markAsReadToken") or ""
    _str(receipt, "markAsReadToken")
    if message.get("type") == "text":
        return "text", {"text": _str(message.get("text"), "the text"), "receipt": receipt}
    return "other", {"receipt": receipt}


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def translate(event: Any) -> QueuedEvent | None:
    """Turn one decoded LINE event into an inbox entry, or None for events we ignore or
    cannot store. Never raises: one bad event must not cost the others of its request."""
    try:
        return _translate(event)
    except Exception as exc:  # a shape no check above foresaw: skip it, keep the rest
        logger.warning("event skipped: unexpected %s while reading it", type(exc).__name__)
        return None


def _translate(event: Any) -> QueuedEvent | None:
    if not isinstance(event, dict) or event.get("mode") != "active":
        return None
    event_id = event.get("webhookEventId")
    if not event_id:
        return None
    try:
        chat_id, shared = _chat_id(event.get("source"))
        type_ = event.get("type")
        kind = _kind(event, type_, shared) if chat_id and isinstance(type_, str) else None
        if kind is None or chat_id is None:
            return None
        reply_token = event.get("replyToken") or None  # "" is no token, as the SDK read it
        if not (_valid_id(event_id) and _valid_id(chat_id)) or \
                (reply_token is not None and not _valid_id(reply_token)):
            raise _Skip("an id is not what LINE sends")
        ts_ms = event.get("timestamp")
        if not isinstance(ts_ms, int) or isinstance(ts_ms, bool):
            raise _Skip("the timestamp is not a whole number")
        name, fields = kind
        try:
            inbound = stored_inbound(name, ts_ms, **fields)
        except ValueError:
            raise _Skip("its timestamp is not a real time") from None
    except _Skip as why:
        logger.warning("event skipped: %s", why)
        return None
    delivery = {"reply_token": reply_token} if reply_token else {}
    if inbound.get("receipt"):
        delivery["read_token"] = inbound["receipt"]
    return QueuedEvent(event_id, str(ConvKey(CHANNEL, chat_id)), ts_ms, inbound, delivery)
