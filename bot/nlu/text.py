"""Fold the many ways people type into one form, keeping the boundaries between words.

Width and case (NFKC, casefold), stretched vowels (しにたーい, しにたぁい), small
kana used as decoration (しにたぃ), kana said again and again (しにたいしにたい, read
as each one), a count of ten pills or more (30錠, read 大量) and editors' spelling
rewrites (タヒ → 死) are
undone before the morphological analysis sees the text. Nothing is removed that
separates words: the analysis needs punctuation and spaces.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

HIRAGANA = re.compile(r"[\u3041-\u309f]")
_TO_HIRAGANA = str.maketrans({chr(k): chr(k - 0x60) for k in range(0x30A1, 0x30F7)})
_KANA_ONLY = re.compile(r"[\u3041-\u309f\u30a1-\u30faー]+")
_SMALL = {"ぁ": "あ", "ぃ": "い", "ぅ": "う", "ぇ": "え", "ぉ": "お", "ゎ": "わ"}
_VOWEL = {**{c: "あ" for c in "あかさたなはまやらわがざだばぱぁゃゎ"},
          **{c: "い" for c in "いきしちにひみりぎじぢびぴぃ"},
          **{c: "う" for c in "うくすつぬふむゆるぐずづぶぷぅゅ"},
          **{c: "え" for c in "えけせてねへめれげぜでべぺぇ"},
          **{c: "お" for c in "おこそとのほもよろをごぞどぼぽぉょ"}}
_STRETCH = "ー〜～~"
_REPEAT = re.compile(r"([\u3041-\u309f])\1{2,}")  # しにたいいいい → しにたい
_SPACED = re.compile(r"(?<!\S)\S(?: \S){2,}(?!\S)")  # し に た い, s h i n e → one word
# しにたいしにたいしにたい: kana said again and again without a break, which the dictionary
# reads as other words (し, に, たいし...); a space around the repeats keeps each whole. A
# repeat is moved as far right as it still repeats, where a word ends: つらい|しにたい|しにたい,
# not つら|いしにた|いしにた|い. Two kana count three times or more (しぬしぬしぬ; ころころ and
# いろいろ stay one word). Three kana said twice count only at the start or the end of the run
# (すごいこわいこわい): inside it they are as often chance (しにたいっていってる: って|いって).
# Four kana or more said twice count anywhere (ほんとにしにたいしにたいって).
_UNIT = re.compile(r"(.{2,10}?)\1+")
_KANA_RUN = re.compile(r"[\u3041-\u309f\u30a1-\u30faー]{6,}")
# 30錠, 二十粒, 数十個: a count of pills is read as 大量 (a large amount) when it is ten or
# more, so that the editors' rules, which cannot compare numbers, can read an overdose
# (睡眠薬30錠飲んだ → 睡眠薬大量飲んだ). Not a daily dose (毎日10錠, 1日12錠).
_PILLS = re.compile(r"(\d+|[〇一二三四五六七八九十百千数]+|何[十百])\s*(?:錠|粒|カプセル|個|こ|包)")
_DAILY = re.compile(r"(毎日|1日|一日|1回|一回|毎朝|毎晩|朝晩)\s*$")


def to_hiragana(text: str) -> str:
    """Katakana to hiragana; everything else unchanged."""
    return text.translate(_TO_HIRAGANA)


def is_kana(text: str) -> bool:
    """Is this written in kana only (hiragana, katakana, the long-vowel mark)?"""
    return _KANA_ONLY.fullmatch(text) is not None


def _unstretch(text: str) -> str:
    """Undo stretched and decorated hiragana: しにたーい, しにたぁい, しにたぃ → しにたい."""
    out: list[str] = []
    for ch in text:
        prev = out[-1] if out else ""
        if ch in _STRETCH and HIRAGANA.match(prev or " "):
            continue
        if ch in _SMALL and HIRAGANA.match(prev or " "):
            if _VOWEL.get(prev) == _SMALL[ch]:
                continue  # たぁ: a stretched た
            ch = _SMALL[ch]
        out.append(ch)
    folded = "".join(out)
    folded = re.sub(r"っ+(?=[^\u3041-\u309f]|$)", "", folded)  # 死にたいっ!
    folded = _REPEAT.sub(r"\1", folded)
    return _KANA_RUN.sub(lambda m: _said_again(m.group()), folded)


def _said_again(run: str) -> str:
    """A run of kana with its repeats set apart: つらいしにたいしにたいって → つらい しにたい しにたい って."""
    parts, at, look = [], 0, 0
    while (m := _UNIT.search(run, look)) is not None:
        size = len(m.group(1))
        start, end = m.start(), m.end()
        while end < len(run) and run[end] == run[start]:  # still repeating one kana later
            start, end = start + 1, end + 1
        times = (end - start) // size
        if times < (3 if size == 2 else 2) or \
                (size == 3 and times == 2 and 0 < start and end < len(run)):
            look = m.start() + 1
            continue
        parts += [run[at:start]] + [run[k:k + size] for k in range(start, end, size)]
        at = look = end
    parts.append(run[at:])
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Spelling:
    """An editor's rewrite: `write` stands for `read` when followed by one of `before` (texts)."""

    write: str
    read: str
    before: tuple[str, ...] = ()
    line: int = 0

    def pattern(self) -> re.Pattern[str]:
        """The regular expression that finds this spelling."""
        ahead = f"(?={'|'.join(re.escape(fold(b)) for b in self.before)})" if self.before else ""
        return re.compile(re.escape(fold(self.write)) + ahead)


def fold(text: str) -> str:
    """Width, case, stretched vowels and decorations folded; spaces collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = re.sub(r"[ \t\u3000]+", " ", folded)
    folded = _SPACED.sub(lambda m: m.group().replace(" ", ""), folded)
    return _unstretch(folded).strip()


class Folder:
    """`fold`, then the editors' spelling rewrites, compiled once."""

    def __init__(self, spellings: tuple[Spelling, ...] = ()):
        self.spellings = spellings
        self._rewrites = [(s.pattern(), fold(s.read)) for s in spellings]

    def __call__(self, text: str) -> str:
        folded = _PILLS.sub(_many_pills, fold(text))
        for pattern, read in self._rewrites:
            folded = pattern.sub(read, folded)
        return folded


def _many_pills(m: re.Match[str]) -> str:
    """30錠 → 大量; 1錠, and a daily dose (毎日10錠), as written."""
    if not _at_least_ten(m.group(1)) or _DAILY.search(m.string[:m.start()]):
        return m.group()
    return "大量"


def _at_least_ten(number: str) -> bool:
    if number.isdigit():
        return int(number) >= 10
    if any(c in number for c in "十百千"):  # 十, 二十, 数十, 何十, 百
        return True
    return len(number) > 1 and "〇" in number  # 一〇, 二〇


LATIN = re.compile(r"[a-z]")
JAPANESE = re.compile(r"[\u3041-\u30ff\u3400-\u9fff\uff66-\uff9f]")
OTHER_SCRIPTS = re.compile(r"[\uac00-\ud7af\u0400-\u04ff\u0e00-\u0e7f\u0600-\u06ff]")


def language(text: str) -> str:
    """'ja' for Japanese; 'en' for Latin-script text; 'other' for other scripts; '' for none.

    Romaji and every Latin-script language are answered in English, the one
    foreign language the bot speaks.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    japanese = len(JAPANESE.findall(folded))
    latin = len(LATIN.findall(folded))
    other = len(OTHER_SCRIPTS.findall(folded))
    if japanese and japanese * 3 >= latin:
        return "ja"
    if latin >= 2 and latin >= other:
        return "en"
    if other:
        return "other"
    return "ja" if japanese else ""
