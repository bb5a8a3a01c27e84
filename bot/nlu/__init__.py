"""Understanding people's own words: morphology, editors' rules, and a model trained from examples.

`load_understanding` reads keywords.yaml and examples/, checks them against
each other, and returns the classifier the engine calls. The model trains on
first use (or when `Understanding.train` is called, as the content watcher
and the app's start do), so that loading stays fast.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..yamlsrc import ContentError
from . import cache
from .classify import MAYBE, SURE, Signals, Understanding, versions
from .examples import NONE, Examples, check_examples, read_examples
from .rules import ALARMS, RuleSet, read_rules

__all__ = ["MAYBE", "SURE", "Signals", "Understanding", "contradictions", "disagreements",
           "load_understanding"]


_LOADED: dict[str, tuple[Understanding | None, list[ContentError]]] = {}


def load_understanding(keywords: Path, examples_dir: Path, shown: str = "examples",
                       cache_dir: Path | None = None
                       ) -> tuple[Understanding | None, list[ContentError]]:
    """Read the rules and the examples; return the classifier (None on errors) and every problem.

    The same files give the same classifier: a process reloading other content, or
    building several apps, reads and trains them once.
    """
    try:
        key = digest(keywords, examples_dir) + shown + str(cache_dir or "")
    except OSError:
        key = None
    if key in _LOADED:
        found, problems = _LOADED[key]
        return found, list(problems)
    result = _load(keywords, examples_dir, shown, key, cache_dir)
    if key is not None:
        _LOADED.clear()  # keep one: what is live now
        _LOADED[key] = result
    return result[0], list(result[1])


def _load(keywords: Path, examples_dir: Path, shown: str, key: str | None,
          cache_dir: Path | None) -> tuple[Understanding | None, list[ContentError]]:
    found = _read_checked(cache_dir, key)
    if found is not None:
        ruleset, examples, errors = found
        return Understanding(ruleset, examples, key, cache_dir), errors
    ruleset, errors = read_rules(keywords)
    examples, example_errors = read_examples(examples_dir, shown)
    errors += example_errors + check_examples(examples)
    if any(not e.warning for e in errors):
        return None, errors
    understanding = Understanding(ruleset, examples, key, cache_dir)
    errors += contradictions(understanding)
    if any(not e.warning for e in errors):
        return None, errors
    cache.write(_checked_file(cache_dir, key),
                (ruleset, examples, [(e.file, e.line, e.message) for e in errors]), "content")
    return understanding, errors


def _checked_file(cache_dir: Path | None, key: str | None) -> Path | None:
    """Where files that passed every check are kept, read and compiled (with the model cache)."""
    if cache_dir is None or not key:
        return None
    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_dir / f"content-{name}-{versions()}.pickle"


def _read_checked(cache_dir: Path | None, key: str | None
                  ) -> tuple[RuleSet, Examples, list[ContentError]] | None:
    """The rules and examples as `_load` kept them after checking, or None.

    Reading, compiling and cross-checking them costs a large part of a second at
    every start; the same files and code give the same result, so a process
    starting on files already checked (another worker, a restart, a CLI command)
    reads it instead.
    """
    found = cache.read(_checked_file(cache_dir, key), "content")
    try:
        ruleset, examples, warnings = found
        return ruleset, examples, [ContentError(file, line, message, warning=True)
                                   for file, line, message in warnings]
    except (TypeError, ValueError):  # none kept, or not what this code writes
        return None


def digest(keywords: Path, examples_dir: Path) -> str:
    """What the model depends on: the bytes of keywords.yaml and of every examples file."""
    h = hashlib.sha256()
    for path in [keywords, *sorted(examples_dir.glob("*.yaml"))]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def contradictions(understanding: Understanding) -> list[ContentError]:
    """Hard negatives a sure rule fires on: the rule or the example is wrong (errors).

    Where the rules read another topic, want or audience than an example's label,
    `flask --app bot crossvalidate` lists it: the model may well be right to learn it.
    """
    out = []
    for name in ALARMS:
        fx = understanding.examples.fields.get(name)
        for e in fx.examples if fx else ():
            raising = [r for r in understanding.example_rules(e.text) if r.set.get(name) is True]
            if e.label != name and raising:
                r = raising[0]
                out.append(ContentError(e.file, e.line, f"{e.text!r} is listed as {e.label}, but "
                                        f"rule {r.id!r} (keywords.yaml:{r.line}) raises {name} on "
                                        "it; change the rule or move the example"))
            elif e.label == name and not raising:
                held = understanding.held_back_by(e.text, name)
                if held:  # a `none` word silently turned an interruption into a question
                    r, word = held
                    out.append(ContentError(e.file, e.line, f"{e.text!r} is a {name}, but the "
                                            f"'none' word {word!r} of rule {r.id!r} (keywords.yaml:"
                                            f"{r.line}) holds it back: the bot only asks, and the "
                                            "model cannot be sure either; if this must interrupt, "
                                            "narrow that none", warning=True))
    return out


def disagreements(understanding: Understanding) -> list[ContentError]:
    """Examples whose topic, want or audience the rules read otherwise (for the report)."""
    out = []
    for name, fx in understanding.examples.fields.items():
        if name in ALARMS:
            continue
        for e in fx.examples:
            setting = next((r for r in understanding.example_rules(e.text) if name in r.set), None)
            if setting is not None and setting.set[name] != (None if e.label == NONE else e.label):
                out.append(ContentError(e.file, e.line, f"{e.text!r} is listed under {e.label!r}, "
                                        f"but rule {setting.id!r} (keywords.yaml:{setting.line}) "
                                        f"reads {name} {setting.set[name]!r}", warning=True))
    return out
