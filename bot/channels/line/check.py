"""Check rendered LINE messages against LINE's limits and the SDK's models.

`problems(batch)` lists every way one request's messages would be refused:
the SDK's own models (line-bot-sdk v3) must read each message back to the
same JSON (an unknown or misspelt field would be dropped, a wrong value
refused), and the limits the SDK does not check are checked here. Tests run
it on every reply of every state; it is cheap enough to run anywhere.
"""
from __future__ import annotations

from typing import Any, Iterator

from linebot.v3.messaging import Message

from .limits import (ALT_TEXT_MAX, BUBBLE_BYTES, BUBBLES_MAX, CAROUSEL_BYTES, DATA_MAX,
                     LABEL_MAX, MESSAGES_MAX, TEXT_MAX_UTF16, URI_MAX, json_size, utf16_len)

QUICK_REPLY_MAX = 13
URI_SCHEMES = ("http://", "https://", "line://", "tel:")


def problems(batch: list[dict[str, Any]]) -> list[str]:
    """Every reason LINE or the SDK would refuse this request's messages (empty: none)."""
    found = [] if 1 <= len(batch) <= MESSAGES_MAX else \
        [f"{len(batch)} messages in one request; LINE takes 1 to {MESSAGES_MAX}"]
    for i, message in enumerate(batch):
        found += [f"message {i}: {p}" for p in message_problems(message)]
    return found


def message_problems(message: dict[str, Any]) -> list[str]:
    """The problems of one message."""
    found = _sdk(message)
    if message.get("type") == "text" and utf16_len(message.get("text", "")) > TEXT_MAX_UTF16:
        found.append(f"text of {utf16_len(message['text'])} UTF-16 units; LINE allows {TEXT_MAX_UTF16}")
    if message.get("type") == "flex":
        found += _flex(message)
    items = (message.get("quickReply") or {}).get("items", [])
    if len(items) > QUICK_REPLY_MAX:
        found.append(f"{len(items)} quick replies; LINE shows {QUICK_REPLY_MAX}")
    for action in actions(message):
        found += _action(action)
    return found


def _sdk(message: dict[str, Any]) -> list[str]:
    try:
        back = Message.from_dict(message).to_dict()
    except (ValueError, TypeError, KeyError) as exc:
        return [f"the SDK refuses it: {exc}"]
    return [] if back == message else ["the SDK reads it back differently (an unknown field?)"]


def _flex(message: dict[str, Any]) -> list[str]:
    found = []
    alt = message.get("altText", "")
    if not alt or len(alt) > ALT_TEXT_MAX:
        found.append(f"altText of {len(alt)} characters; LINE takes 1 to {ALT_TEXT_MAX}")
    contents = message.get("contents", {})
    if contents.get("type") == "carousel":
        bubbles = contents.get("contents", [])
        if not 1 <= len(bubbles) <= BUBBLES_MAX:
            found.append(f"carousel of {len(bubbles)} bubbles; LINE takes 1 to {BUBBLES_MAX}")
        if json_size(contents) > CAROUSEL_BYTES:
            found.append(f"carousel of {json_size(contents)} bytes; LINE allows {CAROUSEL_BYTES}")
    else:
        bubbles = [contents]
    found += [f"bubble of {json_size(b)} bytes; LINE allows {BUBBLE_BYTES}"
              for b in bubbles if json_size(b) > BUBBLE_BYTES]
    return found


def _action(action: dict[str, Any]) -> list[str]:
    found = []
    label = action.get("label", "")
    if len(label) > LABEL_MAX:
        found.append(f"action label {label!r} of {len(label)} characters; LINE allows {LABEL_MAX}")
    for key in ("data", "displayText"):
        if len(action.get(key, "")) > DATA_MAX:
            found.append(f"action {key} over {DATA_MAX} characters")
    uri = action.get("uri")
    if uri is not None and (len(uri) > URI_MAX or not uri.startswith(URI_SCHEMES)):
        found.append(f"uri {uri[:40]!r}… is over {URI_MAX} characters or not http(s), line or tel")
    return found


def actions(value: Any) -> Iterator[dict[str, Any]]:
    """Every action anywhere in a message (buttons, quick replies, bubbles)."""
    if isinstance(value, dict):
        if isinstance(value.get("action"), dict):
            yield value["action"]
        for item in value.values():
            yield from actions(item)
    elif isinstance(value, list):
        for item in value:
            yield from actions(item)
