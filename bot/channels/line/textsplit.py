"""Long text split into LINE-sized pieces at line breaks: nothing is ever cut off."""
from __future__ import annotations

from ...engine.limits import TEXT_MAX_UTF16, utf16_len


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
