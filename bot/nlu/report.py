"""Cross-validate the examples, in the spirit of `rasa test nlu`: what an editor should fix first.

Each field's examples are split in k folds; for each fold the model is trained
on the others and reads the held-back examples the way the bot does (rules
first, then the model). Per label: how many, precision and recall; then the
confusions that happen most, with the file:line of each example involved.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .classify import MAYBE, SURE, Understanding, model_level
from .examples import CHOICE_FIELDS, NONE, Example
from .model import MIN_CHARS, Features, train_field
from .rules import ALARMS

FOLDS = 5


@dataclass
class FieldReport:
    """What cross-validation found for one field."""

    name: str
    folds: int = FOLDS
    counts: Counter = field(default_factory=Counter)        # gold label: examples
    predicted: Counter = field(default_factory=Counter)     # predicted label: times
    correct: Counter = field(default_factory=Counter)       # label: right answers
    confusions: dict[tuple[str, str], list[Example]] = field(default_factory=lambda: defaultdict(list))
    possible: int = 0                                       # alarms caught only as possible

    def lines(self, worst: int = 5, shown: int = 3) -> list[str]:
        out = [f"{self.name}: {sum(self.counts.values())} examples, {self.folds}-fold, "
               "rules then model", f"  {'label':<16}{'n':>5}{'precision':>11}{'recall':>8}"]
        for label in sorted(self.counts, key=lambda k: -self.counts[k]):
            n, hit, said = self.counts[label], self.correct[label], self.predicted[label]
            precision = f"{hit / said:.2f}" if said else "-"
            out.append(f"  {label:<16}{n:>5}{precision:>11}{hit / n:>8.2f}")
        if self.name in ALARMS:
            out.append(f"  caught only as possible (the bot asks): {self.possible}")
        ranked = sorted(self.confusions.items(), key=lambda kv: -len(kv[1]))[:worst]
        if ranked:
            out.append("  worst confusions:")
        for (gold, got), examples in ranked:
            out.append(f"    {gold} read as {got}: {len(examples)}")
            out += [f"      {e.where}: {e.text}" for e in examples[:shown]]
        return out


def _folds(examples: list[Example], k: int) -> list[list[int]]:
    """Stratified folds: each label spread over the folds in turn."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_label[e.label].append(i)
    folds: list[list[int]] = [[] for _ in range(k)]
    turn = 0
    for label in sorted(by_label):
        for i in by_label[label]:
            folds[turn % k].append(i)
            turn += 1
    return folds


def cross_validate(understanding: Understanding, k: int = FOLDS) -> list[FieldReport]:
    """Cross-validate every field's examples."""
    sets = understanding.training_sets()
    reports = []
    for name, fx in understanding.examples.fields.items():
        texts, labels = sets[name]
        report = FieldReport(name, k)
        examples = fx.examples
        listed = len(examples)  # alarm sets add unlisted negatives after the listed ones
        analyses = {t: understanding.example_analysis(t) for t in texts}
        for held in _folds(examples, k):
            held_set = set(held)
            train = [i for i in range(len(texts)) if i not in held_set]
            features = Features()
            model = train_field(features.fit_transform([analyses[texts[i]] for i in train]),
                                [labels[i] for i in train])
            for i in held:
                if i >= listed:
                    continue
                got = _read(understanding, name, fx, analyses[texts[i]], model, features)
                _score(report, examples[i], got)
        reports.append(report)
    return reports


def _read(understanding: Understanding, name: str, fx, analysis, model, features) -> str:
    """The label the bot gives one held-back example: rules first, then the fold's model."""
    rules, held = understanding.read_rules(analysis)
    scores = model.scores(features.row(analysis))
    if name in CHOICE_FIELDS:
        ruled = next((r.set[name] for r in rules if name in r.set), None)
        if ruled is not None:
            return str(ruled)
        label = max(scores, key=scores.__getitem__)
        ok = label != NONE and scores[label] >= fx.accept and label not in fx.ask_instead
        return label if ok else NONE
    rule_level = max((SURE if r.set[name] is True else MAYBE for r in rules if name in r.set),
                     key=lambda lv: lv == SURE, default=None)
    short = len(analysis.text.replace(" ", "")) < MIN_CHARS
    level = model_level(fx, scores[name], name in held, short)
    if rule_level == SURE and not short and scores[name] < fx.veto:
        rule_level = MAYBE
    if SURE in (rule_level, level):
        return name
    if MAYBE in (rule_level, level):
        return MAYBE
    return f"not_{name}"


def _score(report: FieldReport, example: Example, got: str) -> None:
    gold = example.label
    report.counts[gold] += 1
    if report.name in ALARMS and got == MAYBE:
        # asking counts as catching an alarm, and as a (cheap) miss for a hard negative
        report.predicted[report.name if gold == report.name else MAYBE] += 1
        if gold == report.name:
            report.correct[gold] += 1
            report.possible += 1
        else:
            report.confusions[(gold, "possible")].append(example)
        return
    report.predicted[got] += 1
    if got == gold:
        report.correct[gold] += 1
    else:
        report.confusions[(gold, got)].append(example)
