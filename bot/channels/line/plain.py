"""LINE messages as compact text: what the terminal chat prints, read from the same JSON.

A text message is its text. A Flex message is its bubbles' words, one line
per row (a horizontal box on one line, a coloured label in ［］), web links
as 🔗; call buttons add nothing, the number is already in the words, and
postback buttons are the quick replies the chat numbers anyway.
"""
from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def message_text(message: Json) -> str:
    """The words of one LINE message, as compact text."""
    if message.get("type") == "text":
        return str(message.get("text", ""))
    if message.get("type") != "flex":
        return str(message.get("altText", ""))
    contents = message.get("contents") or {}
    bubbles = contents.get("contents", []) if contents.get("type") == "carousel" else [contents]
    return "\n\n".join(filter(None, (bubble_text(b) for b in bubbles)))


def bubble_text(bubble: Json) -> str:
    """A bubble's rows, header to footer."""
    rows: list[str] = []
    for block in ("header", "hero", "body", "footer"):
        if bubble.get(block):
            rows += _rows(bubble[block])
    return "\n".join(r for r in rows if r.strip())


def _rows(component: Json) -> list[str]:
    kind = component.get("type")
    if kind == "text":
        return [str(component.get("text", ""))]
    if kind == "button":
        action = component.get("action", {})
        uri = str(action.get("uri", ""))
        return [f"🔗 {uri}"] if action.get("type") == "uri" and uri.startswith("http") else []
    if kind != "box":
        return []
    inner = [r for c in component.get("contents", []) for r in _rows(c)]
    if component.get("layout") in ("horizontal", "baseline"):
        inner = [" ".join(inner)] if inner else []
    if component.get("backgroundColor") and inner and component.get("flex") == 0:
        inner = [f"［{' '.join(inner)}］"]
    return inner
