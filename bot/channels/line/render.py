"""The engine's replies as LINE message JSON, always within LINE's limits.

The SDK checks some limits (13 quick-reply items, 5 messages) by raising, and
others (label and text length) not at all; we never hand it something LINE
would refuse. Long text is split at line breaks, never cut.
"""
from __future__ import annotations

import logging
from typing import Any

from ...engine.limits import (BUTTONS_MAX, DATA_MAX, LABEL_MAX, MESSAGES_MAX, TEXT_MAX_UTF16,
                              utf16_len)
from ...engine.types import Button, Message, Reply, Text

logger = logging.getLogger(__name__)

Batch = list[dict[str, Any]]


def split_text(text: str, limit: int = TEXT_MAX_UTF16) -> list[str]:
    """Split text into pieces of at most `limit` UTF-16 units, at line breaks where possible."""
    if utf16_len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while utf16_len(line) > limit:  # a single line too long: split between characters
            if current:
                pieces.append(current)
                current = ""
            head = _prefix(line, limit)
            pieces.append(head)
            line = line[len(head):]
        if utf16_len(current) + utf16_len(line) > limit:
            pieces.append(current)
            current = ""
        current += line
    pieces.append(current)
    return [p.strip("\n") for p in pieces if p.strip()]


def _prefix(text: str, units: int) -> str:
    out, used = [], 0
    for ch in text:
        used += utf16_len(ch)
        if used > units:
            break
        out.append(ch)
    return "".join(out)


def _text_of(message: Message) -> str:
    return message.text if isinstance(message, Text) else message.as_text()


def _fit(texts: list[str]) -> list[str]:
    """Join neighbouring texts until they fit LINE's message count, where length allows."""
    texts = list(texts)
    while len(texts) > MESSAGES_MAX:
        joined = False
        for i in range(len(texts) - 1):
            both = texts[i] + "\n\n" + texts[i + 1]
            if utf16_len(both) <= TEXT_MAX_UTF16:
                texts[i:i + 2] = [both]
                joined = True
                break
        if not joined:
            break
    return texts


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def quick_reply(buttons: list[Button]) -> dict[str, Any]:
    """Buttons as a LINE quick reply, at most 13, each label at most 20 characters."""
    if len(buttons) > BUTTONS_MAX:
        logger.warning("reply has %d buttons; LINE shows %d", len(buttons), BUTTONS_MAX)
    items = []
    for b in buttons[:BUTTONS_MAX]:
        if len(b.label) > LABEL_MAX or len(b.data) > DATA_MAX:
            logger.warning("button label or data over LINE's limit was shortened")
        items.append({"type": "action", "action": {
            "type": "postback", "label": _clip(b.label, LABEL_MAX),
            "data": b.data[:DATA_MAX], "displayText": _clip(b.text, DATA_MAX)}})
    return {"items": items}


def render(reply: Reply) -> list[Batch]:
    """Turn a reply into request-sized batches of LINE messages (the first is the reply)."""
    texts = [piece for m in reply.messages for piece in split_text(_text_of(m))]
    texts = _fit(texts)
    messages: Batch = [{"type": "text", "text": t} for t in texts]
    if messages and reply.buttons:
        messages[-1]["quickReply"] = quick_reply(reply.buttons)
    return [messages[i:i + MESSAGES_MAX] for i in range(0, len(messages), MESSAGES_MAX)]
