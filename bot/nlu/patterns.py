"""The pattern language of keywords.yaml: words, not substrings.

A pattern is one or more pieces joined by `+` or `...`:

    消える              the word in any form: 消えたい, 消えちゃう, きえたい, キエタイ
    生きるのがつらい     words in a row, each in any form: 生きるのがつらいです
    死ぬ + たい          たい after 死ぬ with only particles and helper words between:
                        死にたい, 死んじゃいたい, 死んでしまいたい, but not 死ぬほど恥ずかしい
    家 ... 来る          来る later in the same sentence: 家の近くまで来た
    kill* + myself      English: `*` ends a word's beginning (kill, killing, killed)
    =死ね               the word only as written here: 死ね, not 死にたい
    ^逝く               the word in any form, but never by its sound: 逝きます, not いきます
    私|自分 + の + 写真   one of the words between `|` (one word each): 自分の写真

A word matches a message word written the same, with the same dictionary form
(殺される → 殺す), with the same normalised form (ころす, 殺す), or, where
either is written in kana, with the same reading (さされた → 刺す, やんでる → 病む;
never a particle or an auxiliary, and never a word marked `^`). A verb of
three kana or more also matches its own other forms (つきまとう,
付き纏われてる). A run of kana words matches a word with that reading, for
text the dictionary splits wrongly (じさつ → 自殺). A word never matches
inside another word: ころす does not match ところ.

A run of kana can also be cut again where the dictionary chose a word that hides
another (きょうしぬ, read 供する + ぬ, cut again as きょう + しぬ), and a kana word read
as a form of another word can be taken by its own sound (おまえのいえいく: いえ, read as
a form of いえる, as 家): `find_cut_again`, for the rules sure of an alarm, which then
only ask.

Patterns marked whole-words (a rule's `none`) skip those runs: a run is a guess,
and a guess may raise an alarm but never hold one back (in リスカした the run
か+し reads かし, 歌詞, which would have held back the crisis as song lyrics).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .morph import Analysis, Word, analyse, cut_again
from .text import fold, is_kana, to_hiragana

JOIN = re.compile(r"\s*(\+|\.\.\.|…|・・・)\s*")
HELPER_GAP = 4      # at most this many helper words inside a `+`
KANA_RUN = 4        # at most this many kana words read together as one


@dataclass(frozen=True)
class PatternWord:
    """One word of a pattern: the keys it matches by, or an English prefix."""

    keys: frozenset[str]
    prefix: str | None = None
    begins: frozenset[str] = frozenset()  # how its forms begin, in kana (see `beginnings`)

    def matches(self, keys: frozenset[str], word: Word | None) -> bool:
        if self.prefix is not None:
            return word is not None and word.latin and word.surface.startswith(self.prefix)
        return not self.keys.isdisjoint(keys)


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern: pieces of words, and how each piece joins the previous one."""

    text: str
    pieces: tuple[tuple[PatternWord, ...], ...]
    joins: tuple[str, ...]  # before pieces[1:], "+" or "..."

    def first_keys(self) -> frozenset[str]:
        return self.pieces[0][0].keys


class PatternError(ValueError):
    """A pattern an editor wrote that cannot be used, with the reason."""


def _pattern_word(word: Word) -> PatternWord:
    keys = {"s:" + word.surface, "l:" + word.lemma, "n:" + word.norm, "r:" + word.reading}
    if word.pos == "動詞" and len(word.reading) - 1 >= 3:
        keys.add("v:" + word.reading[:-1])
    return PatternWord(frozenset(keys), begins=beginnings(word))


# The kana a godan verb's forms put after its stem: 死ぬ → しな, しに, しぬ, しね, しの, しん(で).
_ROWS = {e: row for row in ("かきくけこい", "がぎぐげごい", "さしすせそし", "たちつてとっ", "なにぬねのん",
                            "ばびぶべぼん", "まみむめもん", "らりるれろっ", "わいうえおっ")
         for e in row[2]}


def beginnings(word: Word) -> frozenset[str]:
    """How the forms of a pattern word begin, two kana or more: where a run of kana may be
    cut again to find it (`morph.cut_again`). A helper word (たい, て) begins nothing."""
    reading = word.reading
    if word.helper or len(reading) < 2 or not is_kana(reading):
        return frozenset()
    if word.pos not in ("動詞", "形容詞"):
        return frozenset({reading})
    stem, last = reading[:-1], reading[-1]
    forms = {stem + k for k in _ROWS.get(last, "")}
    if word.pos == "形容詞" or last == "る":  # 危な(い, かった), 消え(る, た, ない)
        forms.add(stem)
    return frozenset(f for f in forms if len(f) >= 2)


def compile_pattern(text: str) -> Pattern:
    """Compile one pattern, or raise PatternError saying what is wrong."""
    parts = JOIN.split(fold(str(text)))
    pieces, joins = [], []
    for i, part in enumerate(parts):
        if i % 2:
            joins.append("+" if part == "+" else "...")
            continue
        if not part.strip():
            raise PatternError(f"pattern {text!r} has an empty part around '+' or '...'")
        pieces.append(_piece(part))
    return Pattern(str(text), tuple(pieces), tuple(joins))


def _piece(part: str) -> tuple[PatternWord, ...]:
    if "|" in part:
        return (_one_of(part),)
    if part.startswith("^"):  # as written, in any form, never by its sound: ^逝く, not いく
        words = _piece(part[1:])
        return tuple(PatternWord(frozenset(k for k in w.keys if not k.startswith(("r:", "v:"))),
                                 w.prefix) for w in words)
    if part.startswith("="):
        exact = analyse(part[1:], folded=True).words()
        if not exact:
            raise PatternError(f"pattern part {part!r} has no words after '='")
        return tuple(PatternWord(frozenset({"s:" + w.surface})) for w in exact)
    if re.fullmatch(r"[a-z0-9'’* ]+", part):
        latin: list[PatternWord] = []
        for w in part.split():
            w = w.replace("'", "").replace("’", "")
            if w.endswith("*"):
                if len(w) < 4:
                    raise PatternError(f"'{w}' is too short to end in '*' (at least 3 letters)")
                latin.append(PatternWord(frozenset(), w[:-1]))
            else:
                latin.append(PatternWord(frozenset({"s:" + w})))
        return tuple(latin)
    if "*" in part:
        raise PatternError(f"'*' is for English words only: {part!r}")
    words = tuple(_pattern_word(w) for w in analyse(part, folded=True).words())
    if not words:
        raise PatternError(f"pattern part {part!r} has no words")
    return words


def _one_of(part: str) -> PatternWord:
    """私|自分|僕: any one of these words, each in any form (one word each, no English `*`)."""
    keys: set[str] = set()
    begins: set[str] = set()
    for alt in part.split("|"):
        alt = alt.strip()
        words = _piece(alt) if alt else ()
        if len(words) == 1 and words[0].prefix is not None:
            raise PatternError(f"'*' cannot be one of several choices: {part!r}")
        if len(words) != 1:
            split = " + ".join(w.surface for w in analyse(alt, folded=True).words()) if alt else ""
            read = f"{alt!r} is read as {split}" if split else "one is empty"
            raise PatternError(f"each choice in {part!r} must be one word ({read}); "
                               f"write a longer choice as its own pattern")
        keys |= words[0].keys
        begins |= words[0].begins
    return PatternWord(frozenset(keys), begins=frozenset(begins))


# -- matching ------------------------------------------------------------------

Slot = list[tuple[int, frozenset[str]]]  # at one position: (words it spans, keys): ways to read it


def slots(sentence: list[Word], sounds: bool = False) -> list[Slot]:
    """Each position's readings: its word, and runs of kana words read together; with `sounds`,
    also a kana word by its own sound where the dictionary read it as a form of another word
    (いえ, read as いえる: 家 too), a guess (see `PatternIndex.find_cut_again`)."""
    out: list[Slot] = []
    for i, word in enumerate(sentence):
        ways = [(1, word.keys)]
        if sounds and word.kana and word.surface != word.reading:
            ways.append((1, frozenset({"r:" + word.surface})))
        run = word.surface if word.kana else None
        for span in range(2, KANA_RUN + 1):
            if run is None or i + span > len(sentence) or not sentence[i + span - 1].kana:
                break
            run += sentence[i + span - 1].surface
            ways.append((span, frozenset({"r:" + to_hiragana(run), "s:" + run})))
        out.append(ways)
    return out


def _piece_ends(piece: tuple[PatternWord, ...], sentence: list[Word], ways: list[Slot],
                start: int) -> list[int]:
    """Where `piece` can end if it starts at `start` (empty: it does not match there)."""
    ends = [start]
    for pw in piece:
        nxt = []
        for at in ends:
            if at >= len(sentence):
                continue
            for span, keys in ways[at]:
                if pw.matches(keys, sentence[at] if span == 1 else None):
                    nxt.append(at + span)
        ends = nxt
        if not ends:
            return []
    return ends


def _starts_after(join: str, sentence: list[Word], end: int) -> range | list[int]:
    """Where the next piece may start after a piece ended at `end`."""
    if join == "...":
        return range(end, len(sentence))
    out = [end]
    for k in range(end, min(end + HELPER_GAP, len(sentence))):
        if not sentence[k].helper:
            break
        out.append(k + 1)
    return out


def matches_at(pattern: Pattern, sentence: list[Word], ways: list[Slot], start: int) -> bool:
    """Does `pattern` match in this sentence starting at word `start`?"""
    ends = _piece_ends(pattern.pieces[0], sentence, ways, start)
    for join, piece in zip(pattern.joins, pattern.pieces[1:]):
        nxt: set[int] = set()
        for end in ends:
            for s in _starts_after(join, sentence, end):
                nxt.update(_piece_ends(piece, sentence, ways, s))
        ends = sorted(nxt)
        if not ends:
            return False
    return bool(ends)


class PatternIndex:
    """Every pattern of every rule, found through its first word: fast on long messages.
    `whole_words`: the indices of patterns matched on the dictionary's words only, never on
    runs of kana read together (see the module)."""

    def __init__(self, patterns: list[Pattern], whole_words: frozenset[int] = frozenset(),
                 cut_again: frozenset[int] = frozenset()):
        self.patterns = patterns
        self.whole_words = whole_words
        # patterns also looked for where a run of kana is cut again (`find_cut_again`)
        self.guessable = cut_again - whole_words
        self.begins = frozenset(b for i in self.guessable for piece in patterns[i].pieces
                                for w in piece for b in w.begins)
        self.by_key: dict[str, list[int]] = {}
        self.next_word: list[tuple[frozenset[str], int] | None] = []
        for i, p in enumerate(patterns):
            first = p.pieces[0][0]
            keys = {"p:" + first.prefix[:3]} if first.prefix is not None else first.keys
            for key in keys:
                self.by_key.setdefault(key, []).append(i)
            self.next_word.append(_next_word(p))

    def find(self, analysis: Analysis) -> set[int]:
        """The indices of the patterns that match the message."""
        return self._find(analysis.sentences, None)

    def find_cut_again(self, analysis: Analysis, found: set[int]) -> set[int]:
        """The `cut_again` patterns not in `found` that match where a run of kana is cut again
        before a word they name (`morph.cut_again`), or where a kana word is read by its own
        sound (`slots`): a guess, to ask about, never to be sure."""
        if not self.guessable:
            return set()
        others = [alt for sentence in analysis.sentences
                  for alt in cut_again(sentence, self.begins)]
        return self._find(analysis.sentences + others, self.guessable - found, sounds=True)

    def _find(self, sentences: list[list[Word]], only: frozenset[int] | None,
              sounds: bool = False) -> set[int]:
        found: set[int] = set()
        for sentence in sentences:
            ways = slots(sentence, sounds)
            words = [slot[:1] for slot in ways]  # each word alone, no runs
            where: dict[str, list[int]] = {}  # key -> the positions it can be read at
            for pos, slot in enumerate(ways):
                for _, keys in slot:
                    for key in keys:
                        where.setdefault(key, []).append(pos)
            for start, slot in enumerate(ways):
                candidates: set[int] = set()
                for _, keys in slot:
                    for key in keys:
                        candidates.update(self.by_key.get(key, ()))
                if sentence[start].latin:  # English prefixes (kill*) by their first letters
                    candidates.update(self.by_key.get("p:" + sentence[start].surface[:3], ()))
                if only is not None:
                    candidates &= only
                for i in candidates - found:
                    if self._may_follow(i, where, start) and \
                            matches_at(self.patterns[i], sentence,
                                       words if i in self.whole_words else ways, start):
                        found.add(i)
        return found

    def _may_follow(self, i: int, where: dict[str, list[int]], start: int) -> bool:
        """A cheap test before the full match: is the pattern's next word anywhere it could be?"""
        need = self.next_word[i]
        if need is None:
            return True
        keys, reach = need
        last = 1 << 30 if reach < 0 else start + reach
        return any(start < pos <= last for key in keys for pos in where.get(key, ()))


def _next_word(p: Pattern) -> tuple[frozenset[str], int] | None:
    """The second word a pattern needs, and how far after the first it may stand (-1: anywhere
    later in the sentence); None when it cannot be told from keys alone."""
    if len(p.pieces[0]) > 1:
        word, reach = p.pieces[0][1], KANA_RUN
    elif p.joins:
        word = p.pieces[1][0]
        reach = -1 if p.joins[0] == "..." else KANA_RUN + HELPER_GAP
    else:
        return None
    return (word.keys, reach) if word.prefix is None and word.keys else None
