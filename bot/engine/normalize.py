"""Fold the many ways people type Japanese into one form for matching."""
from __future__ import annotations

import re
import unicodedata

_KATAKANA = {chr(k): chr(k - 0x60) for k in range(0x30A1, 0x30F7)}
_IGNORED = re.compile(r"[\s、。，．,.!！?？「」『』（）()・…〜~]+")


def normalize(text: str) -> str:
    """NFKC, lower case, katakana to hiragana, and no spaces or punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = "".join(_KATAKANA.get(ch, ch) for ch in folded)
    return _IGNORED.sub("", folded)
