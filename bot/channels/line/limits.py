"""LINE's limits on Flex Messages and actions, and the helpers that keep us within them.

LINE refuses a whole request when one message breaks a limit, and the SDK
checks almost none of these: we check them all before sending.
"""
from __future__ import annotations

import json
from typing import Any

from ...engine.limits import DATA_MAX, LABEL_MAX, MESSAGES_MAX, TEXT_MAX_UTF16, utf16_len

__all__ = ["ALT_TEXT_MAX", "BUBBLES_MAX", "BUBBLE_BYTES", "CAROUSEL_BYTES", "DATA_MAX",
           "LABEL_MAX", "MESSAGES_MAX", "TEXT_MAX_UTF16", "URI_MAX", "clip", "json_size",
           "utf16_len"]

BUBBLES_MAX = 12        # bubbles in one carousel
BUBBLE_BYTES = 30_000   # one bubble's JSON (LINE: 30 KB; counted as 1000 bytes a KB, the strict way)
CAROUSEL_BYTES = 50_000  # one carousel's JSON (LINE: 50 KB)
ALT_TEXT_MAX = 1500     # characters of a Flex Message's altText
URI_MAX = 1000          # characters of a URI action's uri


def json_size(value: Any) -> int:
    """Bytes of the JSON LINE receives, serialised as the SDK does (non-ASCII as \\uXXXX)."""
    return len(json.dumps(value).encode("ascii"))


def clip(text: str, limit: int) -> str:
    """Text within `limit` characters, ending with … when it had to be cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"
