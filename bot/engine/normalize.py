"""Fold the many ways people type Japanese into one form for matching."""
from __future__ import annotations

import functools
import re
import unicodedata

_KATAKANA = {chr(k): chr(k - 0x60) for k in range(0x30A1, 0x30F7)}
_IGNORED = re.compile(r"[\s、。，．,.!！?？「」『』（）()・…〜~]+")


def normalize(text: str) -> str:
    """NFKC, lower case, katakana to hiragana, and no spaces or punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = "".join(_KATAKANA.get(ch, ch) for ch in folded)
    return _IGNORED.sub("", folded)


@functools.lru_cache(maxsize=4096)
def folded_words(words: tuple[str, ...]) -> frozenset[str]:
    """The content's words (button labels, commands), each folded as `normalize` does.

    Cached: each message is compared with the same few dozen words, which were folded
    anew every time (a tenth of an event's handling). Only the content's own words
    are kept here, never what a person wrote.
    """
    return frozenset(normalize(w) for w in words)


# A polite or asking tail after a command: 人と話したいです, 最初からお願いします,
# スタッフにつないでください (normalized: kana as hiragana, no punctuation).
_POLITE_TAIL = re.compile(r"(?:なんですが|んですけど|んですが|です|ですが|ですけど|ですか|"
                          r"を(?:お願い|おねがい)します|(?:お願い|おねがい)(?:します)?|ください|下さい|"
                          r"してください|して)$")


def without_polite_tail(said: str) -> str:
    """A normalized message without a polite tail (です, お願いします, ください), or as it is."""
    return _POLITE_TAIL.sub("", said) or said
