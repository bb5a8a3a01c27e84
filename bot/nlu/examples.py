"""examples/*.yaml: messages editors list under the label they show, to train the model.

One file per field, in the spirit of Rasa's NLU training data:

    field: want
    accept: 0.5            # the model's answer counts when it scores at least this
    ask_instead: [self]    # labels the model never fills in (the bot asks instead)
    labels:
      delete:
        - この投稿を消してほしいです
      none:                # messages that show no wish at all
        - 悪口を書かれました

The safety fields (crisis, danger) list their messages and hard negatives
(`not_crisis`, `not_danger`), and thresholds: `sure` (the bot interrupts),
`possible` (the bot asks), and `veto` (a rule's sure alarm only asks when the
model scores the message below it: the model reads a joke or a story better).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import yamlsrc
from ..yamlsrc import ContentError
from .rules import ALARMS, FIELDS
from .text import fold

NONE = "none"
MIN_EXAMPLES = 8
CHOICE_FIELDS = ("topic", "want", "audience")
MODEL_FIELDS = CHOICE_FIELDS + ALARMS
FILE_KEYS = {"field", "labels", "accept", "sure", "possible", "veto", "ask_instead", "note"}


def labels_of(name: str) -> tuple[str, ...]:
    """The labels a field's file may list."""
    if name in ALARMS:
        return (name, f"not_{name}")
    return tuple(FIELDS[name]) + (NONE,)


@dataclass(frozen=True)
class Example:
    """One message an editor wrote, under one label, where it is written."""

    text: str
    label: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class FieldExamples:
    """A field's examples and thresholds."""

    name: str
    file: str
    examples: list[Example] = field(default_factory=list)
    accept: float = 0.5
    sure: float = 0.9
    possible: float = 0.3
    veto: float = 0.0   # a sure rule only asks when the model scores the alarm below this
    ask_instead: tuple[str, ...] = ()  # labels the model never fills in: the bot asks instead

    def positive(self, example: Example) -> bool:
        """For a safety field: is this example the alarm (not its hard negative)?"""
        return example.label == self.name


@dataclass
class Examples:
    """Every field's examples."""

    fields: dict[str, FieldExamples] = field(default_factory=dict)

    def all(self) -> list[Example]:
        return [e for f in self.fields.values() for e in f.examples]


def read_examples(folder: Path, shown: str = "examples") -> tuple[Examples, list[ContentError]]:
    """Read every examples/*.yaml; return them and every problem found."""
    out, errors = Examples(), []
    for path in sorted(folder.glob("*.yaml")):
        name = f"{shown}/{path.name}"
        try:
            doc = yamlsrc.load(path, name)
        except ContentError as exc:
            errors.append(exc)
            continue
        fx, problems = _read_file(doc, name)
        errors += problems
        if fx is None:
            continue
        if fx.name in out.fields:
            errors.append(ContentError(name, 1, f"field {fx.name!r} already has a file: "
                                       f"{out.fields[fx.name].file}; keep one file per field"))
            continue
        out.fields[fx.name] = fx
    for name in MODEL_FIELDS:
        if name not in out.fields:
            errors.append(ContentError(f"{shown}/{name}.yaml", 1, f"no examples for {name}: "
                                       f"the model needs {shown}/{name}.yaml"))
    return out, errors


def _read_file(doc: Any, name: str) -> tuple[FieldExamples | None, list[ContentError]]:
    check = yamlsrc.Checker(name)
    if not check.keys(doc, FILE_KEYS, "an examples file"):
        return None, check.errors
    fname = doc.get("field")
    if fname not in MODEL_FIELDS:
        check.error(doc.line_of("field"), f"field {fname!r} is not one the model learns; "
                    f"allowed: {', '.join(MODEL_FIELDS)}")
        return None, check.errors
    fx = FieldExamples(str(fname), name)
    for key in ("accept", "sure", "possible", "veto"):
        value = doc.get(key, getattr(fx, key))
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1 \
                or (value == 0 and key != "veto"):
            check.error(doc.line_of(key), f"{key} must be a number above 0 and at most 1")
        else:
            setattr(fx, key, float(value))
    ask = doc.get("ask_instead") or []
    if not isinstance(ask, list) or any(a not in labels_of(fx.name) for a in ask):
        check.error(doc.line_of("ask_instead"), f"ask_instead lists labels of {fx.name}: "
                    f"{', '.join(labels_of(fx.name))}")
    else:
        fx.ask_instead = tuple(ask)
    if fx.possible > fx.sure:
        check.error(doc.line_of("possible"), f"possible ({fx.possible}) must not be above "
                    f"sure ({fx.sure})")
    labels = doc.get("labels")
    if not isinstance(labels, dict):
        check.error(doc.line_of("labels"), "'labels' must map each label to a list of messages")
        return fx, check.errors
    allowed = labels_of(fx.name)
    for label, items in labels.items():
        line = yamlsrc.key_line(labels, label)
        if label not in allowed:
            check.error(line, f"{label!r} is not a label of {fx.name}; allowed: {', '.join(allowed)}")
            continue
        if not isinstance(items, list):
            check.error(line, f"label {label!r} needs a list of messages")
            continue
        for text, item_line in zip(items, yamlsrc.item_lines(items)):
            if not isinstance(text, str) or not text.strip():
                check.error(item_line, "an example must be a non-empty text")
                continue
            fx.examples.append(Example(text, str(label), name, item_line))
    return fx, check.errors


def check_examples(examples: Examples) -> list[ContentError]:
    """Conflicting labels, doubles and labels too thin to train, with file:line."""
    errors = []
    for fx in examples.fields.values():
        seen: dict[str, Example] = {}
        for e in fx.examples:
            key = fold(e.text)
            first = seen.get(key)
            if first is None:
                seen[key] = e
            elif first.label != e.label:
                errors.append(ContentError(e.file, e.line, f"{e.text!r} is listed under "
                                           f"{e.label!r} and under {first.label!r} "
                                           f"({first.where}); keep the one that is right"))
            else:
                errors.append(ContentError(e.file, e.line, f"{e.text!r} is listed twice under "
                                           f"{e.label!r} (also {first.where})", warning=True))
        counts = {label: 0 for label in labels_of(fx.name)}
        for e in fx.examples:
            counts[e.label] += 1
        for label, n in counts.items():
            if n < MIN_EXAMPLES:
                errors.append(ContentError(fx.file, 1, f"label {label!r} of {fx.name} has {n} "
                                           f"examples; the model needs at least {MIN_EXAMPLES}"))
    return errors
