"""Japanese morphology with SudachiPy: a message as sentences of words, each in several forms.

The dictionary (sudachidict_core, installed from the package index) is loaded
once per process; each thread gets its own tokenizer from it, because a
SudachiPy tokenizer must not be used by two threads at once.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from .text import fold, is_kana, to_hiragana

_lock = threading.Lock()
_local = threading.local()
_dictionary = None

HELPER_POS = {"助詞", "助動詞", "接尾辞"}          # words that may stand inside a `+`
PARTICLES = {"助詞", "助動詞"}                      # never matched by their sound
HELPER_SUB = {"非自立可能"}                       # しまう, いる, くる, やる, ない ...
QUOTES = {"括弧開", "括弧閉"}                      # 「刺す」って: quotes stand inside a phrase


def _tokenizer():
    """This thread's tokenizer, from the process's one dictionary."""
    tok = getattr(_local, "tokenizer", None)
    if tok is None:
        global _dictionary
        with _lock:
            if _dictionary is None:
                from sudachipy import Dictionary

                _dictionary = Dictionary(dict="core")
        from sudachipy import SplitMode

        tok = _local.tokenizer = _dictionary.tokenizer(mode=SplitMode.C)
    return tok


@dataclass(frozen=True)
class Word:
    """One word of a message, with every form a rule may name."""

    surface: str
    lemma: str         # dictionary form, as written: 消える, きえる
    norm: str          # Sudachi's normalised form: きえる → 消える
    reading: str       # of the dictionary form, in hiragana: きえる
    pos: str
    helper: bool       # a particle or auxiliary, which `+` may step over
    kana: bool         # written in kana only
    latin: bool
    parts: tuple[str, ...] = ()  # a compound's shorter words: サスペンスドラマ → ドラマ

    @cached_property
    def keys(self) -> frozenset[str]:
        """The keys a pattern word can match this word by (worked out once)."""
        return frozenset(self.forms())

    def forms(self) -> set[str]:
        """The keys a pattern word can match this word by."""
        out = {"s:" + self.surface, "l:" + self.lemma, "n:" + self.norm}
        out.update(self.parts)
        if self.kana and self.pos not in PARTICLES:
            # by its sound (やんでる: 病む as well as 止む), but never a particle or an
            # auxiliary: the か of なんか is not 蚊, the て of 見て not 手. A pattern word an
            # editor marks `^` (^逝く) is never matched by sound: いく is 行く.
            out.add("r:" + self.reading)
        if self.pos == "動詞":
            stem = self.reading[:-1]
            out.update("v:" + stem[:k] for k in range(3, len(stem) + 1))
        return out


@dataclass
class Analysis:
    """A message analysed: its folded text and its sentences of words."""

    text: str
    sentences: list[list[Word]] = field(default_factory=list)

    def words(self) -> list[Word]:
        return [w for s in self.sentences for w in s]


@lru_cache(maxsize=20000)
def _reading_of(lemma: str) -> str:
    """The hiragana reading of a dictionary form (cached: lemmas repeat)."""
    if is_kana(lemma):
        return to_hiragana(lemma)
    return to_hiragana("".join(m.reading_form() for m in _tokenizer().tokenize(lemma)))


def _word(m) -> Word:
    surface = m.surface()
    pos = m.part_of_speech()
    lemma = m.dictionary_form()
    latin = LATIN_WORD.fullmatch(surface) is not None
    kana = is_kana(surface)
    reading = to_hiragana(lemma) if kana and is_kana(lemma) else \
        _reading_of(lemma) if pos[0] == "動詞" else to_hiragana(m.reading_form())
    helper = pos[0] in HELPER_POS or pos[1] in HELPER_SUB or pos[1] in QUOTES
    return Word(to_hiragana(surface) if kana else surface, lemma, m.normalized_form(), reading,
                pos[0], helper, kana, latin, _parts(m, pos[0]) if len(surface) > 2 else ())


def _parts(m, pos: str) -> tuple[str, ...]:
    """The keys of a compound's shorter words (Sudachi's split mode A).

    Every part of a compound noun (サスペンスドラマ: ドラマ); only the head of a
    compound verb (刺し殺す, ぶっころす: 殺す), whose first part is a manner.
    """
    if pos not in ("名詞", "動詞"):
        return ()
    from sudachipy import SplitMode

    parts = list(m.split(SplitMode.A))
    if len(parts) < 2:
        return ()
    if pos == "動詞":
        parts = parts[-1:]
    keys = []
    for p in parts:
        keys += ["s:" + p.surface(), "l:" + p.dictionary_form(), "n:" + p.normalized_form()]
        if is_kana(p.surface()):
            keys.append("r:" + to_hiragana(p.dictionary_form()))
    return tuple(keys)


def _split_oov(m) -> list | None:
    """A katakana word the dictionary does not know (シニタイ) read again as hiragana."""
    surface = m.surface()
    if not m.is_oov() or not is_kana(surface) or len(surface) < 3:
        return None
    return list(_tokenizer().tokenize(to_hiragana(surface)))


SENTENCE_END = re.compile(r"[。．!?！？\n\r]+|\.(?=\s|$)|…+")
LATIN_WORD = re.compile(r"[a-z0-9'*]+")
LATIN_RUN = re.compile(r"[a-z][a-z0-9'’]*\*?(?:[\s,]+[a-z][a-z0-9'’]*\*?)*")


def latin_word(word: str) -> Word:
    """An English (or romaji) word: matched as written, apostrophes dropped (dont, im)."""
    word = word.replace("'", "").replace("’", "")
    return Word(word, word, word, word, "latin", False, False, True)


def analyse(text: str, folded: bool = False) -> Analysis:
    """Analyse a message into sentences of words; `folded`: the text is already folded.

    Sentences end at 。！？ and new lines. Spaces separate nothing: people write
    ひらがなを くぎって かく as often as they end a sentence with one. English
    runs are split into words here; Japanese goes to Sudachi.
    """
    text = text if folded else fold(text)
    result = Analysis(text)
    for chunk in SENTENCE_END.split(text):
        sentence: list[Word] = []
        at = 0
        for run in LATIN_RUN.finditer(chunk):
            sentence += _japanese(chunk[at:run.start()])
            sentence += [latin_word(w) for w in re.split(r"[\s,]+", run.group()) if w]
            at = run.end()
        sentence += _japanese(chunk[at:])
        if sentence:
            result.sentences.append(sentence)
    return result


def cut_again(sentence: list[Word], begins: frozenset[str], limit: int = 24) -> list[list[Word]]:
    """Other readings of a sentence: a run of kana cut again where a word of `begins` may start
    inside a word the dictionary chose (きょうし|ぬ, 供する: cut before しぬ, きょう|しぬ).

    All-hiragana text has no kanji to show where words end, and the dictionary then
    prefers rare words: きょうしぬ is read 供する + ぬ. Each reading here is a guess.
    """
    out: list[list[Word]] = []
    longest = max(map(len, begins), default=0)
    i = 0
    while i < len(sentence) and len(out) < limit:
        if not _hiragana(sentence[i]):
            i += 1
            continue
        j = i
        while j < len(sentence) and _hiragana(sentence[j]):
            j += 1
        for m in range(i, j):
            word = sentence[m].surface
            rest = "".join(w.surface for w in sentence[m:j])
            for k in range(1, len(word)):
                if any(rest[k:k + n] in begins for n in range(2, longest + 1)):
                    out.append(sentence[:m] + _japanese(rest[:k]) + _japanese(rest[k:])
                               + sentence[j:])
                    if len(out) >= limit:
                        return out
        i = j
    return out


_KATAKANA = re.compile(r"[\u30a1-\u30fa]")


def _hiragana(word: Word) -> bool:
    """Written in hiragana: a katakana word (インスタ) is a loanword the dictionary reads well."""
    return word.kana and not _KATAKANA.search(word.lemma)


def _japanese(text: str) -> list[Word]:
    """Sudachi's words of `text`, without the spaces."""
    if not text.strip():
        return []
    return [_word(part) for m in _tokenizer().tokenize(text) if not m.surface().isspace()
            for part in _split_oov(m) or [m]]
