"""Read a message: rules first (explainable, fixable today), then the model for what they miss.

For topic, want and audience the first rule that sets the field wins; without
one, the model's label counts when it scores at least the field's `accept`.
Crisis and danger have three levels:

- sure: a rule raised it, or the model scored at least `sure`: the bot interrupts;
- possible: a rule marked it `possible` (distress words), or the model scored at
  least `possible`: the bot asks one direct, kind question;
- none.
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from . import cache
from .examples import CHOICE_FIELDS, NONE, Examples, FieldExamples
from .model import MIN_CHARS, Features, FieldModel, train_field
from .morph import Analysis, analyse
from .patterns import PatternIndex
from .rules import ALARMS, FLAG_FIELDS, Rule, RuleSet
from .text import Folder, fold, language

SURE, MAYBE = "sure", "possible"
AGE = re.compile(r"(\d{1,3}|[一二三四五六七八九十]{1,4})\s*(歳|才|さい|代)")
_KANJI_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")}
ADULT = 18
_TRAINED: dict[str, "Trained"] = {}  # per process: content reloaded unchanged is not retrained
_ANALYSES: dict[tuple, Analysis] = {}  # per process: examples analysed once, across reloads


@dataclass
class Signals:
    """What one message showed, and why."""

    values: dict[str, Any] = field(default_factory=dict)
    matched: list[str] = field(default_factory=list)
    levels: dict[str, str] = field(default_factory=dict)   # crisis/danger: sure or possible
    by: dict[str, str] = field(default_factory=dict)       # field: "rule:<id>" or "model"
    model: dict[str, dict[str, Any]] = field(default_factory=dict)
    language: str = "ja"
    # crisis/danger: how strongly they showed, to choose which to ask about (see `check`)
    weight: dict[str, float] = field(default_factory=dict)

    @property
    def danger(self) -> bool:
        return self.levels.get("danger") == SURE

    @property
    def crisis(self) -> bool:
        return self.levels.get("crisis") == SURE

    @property
    def medical(self) -> bool:
        return bool(self.values.get("medical"))

    @property
    def check(self) -> str | None:
        """The alarm to ask about: possible, and not already sure."""
        maybe = [a for a in ("crisis", "danger") if self.levels.get(a) == MAYBE]
        if len(maybe) > 1:  # ask about the likelier one (see `weight`)
            maybe.sort(key=lambda a: -self.weight.get(a, self.model.get(a, {}).get("score", 0.0)))
        return maybe[0] if maybe else None

    def answers(self) -> dict[str, Any]:
        """The values that are interview answers (not the alarms)."""
        return {k: v for k, v in self.values.items() if k not in ALARMS + ("medical",)}

    def as_json(self) -> dict[str, Any]:
        """The shape `flask --app bot classify` prints."""
        v = self.values
        return {"topic": v.get("topic"), "want": v.get("want"), "audience": v.get("audience"),
                "flags": [f for f in FLAG_FIELDS if v.get(f)],
                "danger": self.danger, "crisis": self.crisis, "check": self.check,
                "medical": self.medical, "language": self.language,
                "matched": list(self.matched), "by": dict(self.by), "model": dict(self.model)}


@dataclass
class Trained:
    """The fitted features and one model per field."""

    features: Features
    models: dict[str, FieldModel]


class Understanding:
    """The classifier the engine calls: rules, spellings, examples and the model they train."""

    def __init__(self, ruleset: RuleSet, examples: Examples, key: str | None = None,
                 cache_dir: Path | None = None):
        self.ruleset = ruleset
        self.examples = examples
        self.cache_dir = cache_dir  # trained models shared between processes
        self.key = key  # a digest of the files it came from: the same files train the same model
        self.folder = Folder(ruleset.spellings)
        # the words of rules sure of an alarm, also looked for where kana is cut again
        sure_words = frozenset(i for r in ruleset.rules if any(r.set.get(a) is True for a in ALARMS)
                               for i in r.any + tuple(i for g in r.all for i in g))
        self.index = PatternIndex(ruleset.patterns,  # `none`: whole words, never a guess
                                  frozenset(i for r in ruleset.rules for i in r.none),
                                  cut_again=sure_words)
        self._trained: Trained | None = None
        self._lock = threading.Lock()
        self._fired: dict[str, list[Rule]] = {}

    # -- reading -----------------------------------------------------------------

    def analyse(self, text: str) -> Analysis:
        """Fold (with the editors' spellings) and analyse one message."""
        return analyse(self.folder(text), folded=True)

    def fired(self, analysis: Analysis) -> list[Rule]:
        """The rules that fire on an analysed message, in file order."""
        return self.read_rules(analysis)[0]

    def read_rules(self, analysis: Analysis) -> tuple[list[Rule], set[str]]:
        """The rules that fire, and the alarms a sure rule held back (its `none` saw a film, a joke)."""
        return self._rules_of(self.index.find(analysis))

    def _rules_of(self, found: set[int]) -> tuple[list[Rule], set[str]]:
        fired = [r for r in self.ruleset.rules if r.fires(found)]
        held = {a for r in self.ruleset.rules for a in ALARMS
                if r.set.get(a) is True and r.held_back(found)}
        return fired, held

    def _cut_again(self, signals: Signals, analysis: Analysis, found: set[int],
                   fired: list[Rule]) -> None:
        """An alarm rule that fires only where a run of kana is cut again (きょうしぬ, read
        供する + ぬ by the dictionary, cut again as きょう + しぬ) makes its alarm possible: a
        guess, so the bot asks."""
        again = self.index.find_cut_again(analysis, found)
        if not again:
            return
        for rule in self.ruleset.rules:
            alarms = [a for a in ALARMS if rule.set.get(a) is True]
            if alarms and rule not in fired and rule.fires(found | again):
                signals.matched.append(f"{rule.id} (cut again)")
                for alarm in alarms:
                    if alarm not in signals.levels:
                        signals.levels[alarm] = MAYBE
                        signals.by[alarm] = f"rule:{rule.id} (cut again)"

    def __call__(self, text: str) -> Signals:
        signals = Signals(language=language(text))
        if not fold(text):
            return signals
        analysis = self.analyse(text)
        found = self.index.find(analysis)
        fired, held = self._rules_of(found)
        self._apply_rules(signals, fired)
        self._cut_again(signals, analysis, found, fired)
        read_age(signals, analysis.text)
        trained = self.train()
        x = trained.features.row(analysis)
        short = len(analysis.text.replace(" ", "")) < MIN_CHARS
        for name, model in trained.models.items():
            self._apply_model(signals, name, model.scores(x), held, short)
        sure = [a for a in ALARMS if signals.levels.get(a) == SURE]
        for alarm in sure if len(sure) == 1 else ():  # both sure: no joke; one: maybe a joke
            score = signals.model.get(alarm, {}).get("score", 1.0)
            if signals.by.get(alarm, "").startswith("rule:") and not short \
                    and score < self.examples.fields[alarm].veto:  # the model reads it otherwise
                signals.levels[alarm] = MAYBE
                signals.by[alarm] += " (model: ask)"
        # Which possible alarm to ask about (`check`): first one the model is sure of (held
        # back to a question by a rule's `none`), then one a rule saw, then the model's
        # likelier; within each, the model's score. やっぱり危ないかも: 危ない beats a crisis
        # the model half-thinks of; a crisis the model reads near 1.0 beats 怖い; 線路に行く
        # (a rule) beats a danger score of 0.6.
        for alarm in ALARMS:
            score = signals.model.get(alarm, {}).get("score", 0.0)
            by_rule = signals.by.get(alarm, "").startswith("rule:")
            tier = 2 if score >= self.examples.fields[alarm].sure else 1 if by_rule else 0
            signals.weight[alarm] = tier + score
        return signals

    def _apply_rules(self, signals: Signals, rules: list[Rule]) -> None:
        for rule in rules:
            signals.matched.append(rule.id)
            for key, value in rule.set.items():
                if key in ALARMS:
                    level = SURE if value is True else MAYBE
                    if signals.levels.get(key) != SURE:
                        signals.levels[key] = level
                        signals.by[key] = f"rule:{rule.id}"
                elif key not in signals.values:
                    signals.values[key] = value
                    signals.by[key] = f"rule:{rule.id}"

    def _apply_model(self, signals: Signals, name: str, scores: dict[str, float],
                     held: set[str], short: bool) -> None:
        fx = self.examples.fields[name]
        if name in ALARMS:
            score = scores[name]
            signals.model[name] = {"label": name if score >= 0.5 else f"not_{name}",
                                   "score": round(score, 3)}
            level = model_level(fx, score, name in held, short)
            if level and signals.levels.get(name) != SURE and \
                    (level == SURE or name not in signals.levels):
                signals.levels[name] = level
                signals.by[name] = "model"
            return
        label = max(scores, key=scores.__getitem__)
        signals.model[name] = {"label": label, "score": round(scores[label], 3)}
        if name not in signals.values and label != NONE and scores[label] >= fx.accept and \
                label not in fx.ask_instead:
            signals.values[name] = label
            signals.by[name] = "model"

    # -- training ----------------------------------------------------------------

    @property
    def trained(self) -> bool:
        return self._trained is not None

    @property
    def training(self) -> bool:
        """Is another thread training this model right now?"""
        return self._lock.locked()

    def train(self) -> Trained:
        """Train the model from the examples, once (later calls return the same model).

        With a cache folder, a model trained from the same files by another process
        (a gunicorn worker, a server restarted) is read from there instead.
        """
        if self._trained is None:
            with self._lock:
                if self._trained is None:
                    self._trained = _TRAINED.get(self.key) if self.key else None
                if self._trained is None:
                    self._trained = self._read_cache() or self._write_cache(self._train())
                    if self.key:
                        _TRAINED[self.key] = self._trained
                        while len(_TRAINED) > 2:  # a reload replaces the model; keep few
                            _TRAINED.pop(next(iter(_TRAINED)))
        return self._trained

    def _cache_file(self) -> Path | None:
        if self.cache_dir is None or not self.key:
            return None
        return self.cache_dir / f"model-{self.key[:32]}-{versions()}.pickle"

    def _read_cache(self) -> Trained | None:
        found = cache.read(self._cache_file(), "model")
        return found if isinstance(found, Trained) else None

    def _write_cache(self, trained: Trained) -> Trained:
        cache.write(self._cache_file(), trained, "model")
        return trained

    def training_sets(self) -> dict[str, tuple[list[str], list[str]]]:
        """Each field's training texts and labels, as the model sees them."""
        out = {}
        everything = {fold(e.text): e.text for e in self.examples.all()}
        for name, fx in self.examples.fields.items():
            if name in CHOICE_FIELDS:
                out[name] = ([e.text for e in fx.examples], [e.label for e in fx.examples])
            else:
                out[name] = self._alarm_set(fx, everything)
        return out

    def _alarm_set(self, fx: FieldExamples, everything: dict[str, str]) -> tuple[list[str], list[str]]:
        """Alarm examples, and as negatives every other example no rule of the alarm is sure of."""
        texts, labels = [], []
        listed = {fold(e.text) for e in fx.examples}
        for e in fx.examples:
            texts.append(e.text)
            labels.append(e.label)
        for key, text in everything.items():
            if key in listed or self._rules_sure(text, fx.name):
                continue
            texts.append(text)
            labels.append(f"not_{fx.name}")
        return texts, labels

    def example_analysis(self, text: str) -> Analysis:
        """An example's analysis, made once per process: validation, training, reports and the
        next reload (while the spellings stay the same) share it."""
        key = (self.ruleset.spellings, text)
        found = _ANALYSES.get(key)
        if found is None:
            if len(_ANALYSES) > 50000:
                _ANALYSES.clear()
            found = _ANALYSES[key] = self.analyse(text)
        return found

    def example_rules(self, text: str) -> list[Rule]:
        """The rules that fire on an example, found once."""
        found = self._fired.get(text)
        if found is None:
            found = self._fired[text] = self.fired(self.example_analysis(text))
        return found

    def held_back_by(self, text: str, alarm: str) -> tuple[Rule, str] | None:
        """The rule sure of `alarm` whose `none` holds it back on an example, and that word."""
        found = self.index.find(self.example_analysis(text))
        for rule in self.ruleset.rules:
            if rule.set.get(alarm) is True and rule.held_back(found):
                return rule, next(self.index.patterns[i].text for i in rule.none if i in found)
        return None

    def _rules_sure(self, text: str, alarm: str) -> bool:
        return any(r.set.get(alarm) is True for r in self.example_rules(text))

    def _train(self) -> Trained:
        sets = self.training_sets()
        texts = sorted({t for ts, _ in sets.values() for t in ts})
        row = {t: i for i, t in enumerate(texts)}
        features = Features()
        x = features.fit_transform([self.example_analysis(t) for t in texts])
        models = {name: train_field(x[[row[t] for t in ts]], labels)
                  for name, (ts, labels) in sets.items()}
        return Trained(features, models)


def model_level(fx: FieldExamples, score: float, held: bool, short: bool) -> str | None:
    """The alarm level the model's score gives: never sure where a rule saw a story or a
    joke, and nothing at all for a word or two (too little to go on; rules still count)."""
    if short:
        return None
    if score >= fx.sure:
        return MAYBE if held else SURE
    return MAYBE if score >= fx.possible else None


def read_age(signals: Signals, text: str) -> None:
    """An age written as a number (30代です, 15歳, 二十代, 七十八歳) answers whether it is a child's
    case.

    The teens (10代) say nothing: a 19-year-old is not a child here. Rules (中学生) come first.
    """
    if "child" in signals.values:
        return
    for m in AGE.finditer(text):
        n = _number(m.group(1))
        if n is None:
            continue
        if m.group(2) == "代":
            if n < 20 or n % 10:
                continue
            child = False
        else:
            child = n < ADULT
        signals.values["child"] = child
        signals.by["child"] = "age"
        return


def _number(written: str) -> int | None:
    """15 or 十五, 七十八, 二十: the number, up to 99 in kanji; None if it is not one."""
    if written.isdigit():
        return int(written)
    tens, _, ones = written.partition("十")
    if "十" not in written:
        return _KANJI_DIGITS.get(written) if len(written) == 1 else None
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (_KANJI_DIGITS.get(tens, 0) if tens else 1) * 10 + (_KANJI_DIGITS.get(ones, 0) if ones else 0)


@lru_cache(maxsize=1)
def versions() -> str:
    """The code and libraries a pickled model depends on: another version trains afresh."""
    return "-".join([code_version()] + [version(p) for p in ("scikit-learn", "numpy", "scipy",
                                                              "SudachiPy", "SudachiDict-core")])


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of this package's code: what it cached is not reused by other code."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]
