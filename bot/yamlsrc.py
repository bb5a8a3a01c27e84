"""Load editor-written YAML while remembering line numbers, for errors an editor can act on."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml


class ContentError(Exception):
    """A mistake in a content file, located at `file:line` (line 1 for the file as a whole)."""

    def __init__(self, file: str, line: int | None, message: str, warning: bool = False):
        self.file, self.line, self.message, self.warning = file, line or 1, message, warning
        super().__init__(str(self))

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.file}:{self.line}: {kind}{self.message}"


class LineDict(dict):
    """A mapping from YAML that knows the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """Return the line where `key` is written, or the mapping's own line."""
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A sequence from YAML that knows the line of itself and of each item."""

    line: int = 0
    item_lines: list[int]


if TYPE_CHECKING:
    _Base = yaml.SafeLoader
else:  # libyaml's parser where PyYAML was built with it (much faster), else pure Python
    _Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):
    pass


# YAML 1.1 reads yes/no/on/off as booleans, so a label `No` or a key `yes:` would
# silently become False/True. Editors write Japanese and plain words: as in YAML
# 1.2, only true and false are booleans here.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(n, deep=True) for n in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [n.start_mark.line + 1 for n in node.value]
    return out


def _timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    """A date; one that does not exist (2026-11-31) is an error at its line, not a crash."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a real date ({exc})", node.start_mark) from exc


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)

# 「…警察相談専用電話 #9110 へ」 unquoted: YAML reads ` #` as the start of a comment and the
# text silently ends before it. A plain (unquoted, one-line) text followed on its line by
# a space and `#` and a digit is such a cut (#9110, #8103, #8891 are numbers people are
# given); a comment meant as one starts `# `. Quoted and block texts (|-) keep their `#`.
_CUT = re.compile(r"[ \t]+#\d")


def _cut_text(text: str) -> int | None:
    """The line of the first plain text a `#number` cuts short, if any."""
    try:
        root = yaml.compose(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return None  # reported by the load itself
    todo = [root] if root is not None else []
    while todo:
        node = todo.pop()
        if isinstance(node, yaml.MappingNode):
            todo += [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            todo += node.value
        elif isinstance(node, yaml.ScalarNode) and not node.style and \
                node.start_mark.line == node.end_mark.line and _CUT.match(text, node.end_mark.index):
            return node.end_mark.line + 1
    return None


def load(path: Path, name: str | None = None) -> Any:
    """Parse one YAML file; syntax errors become a ContentError at the right line."""
    name = name or path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ContentError(name, None, f"cannot read the file ({exc.strerror})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw.count(b"\n", 0, exc.start) + 1
        raise ContentError(name, bad, "the file is not UTF-8 (saved as Shift_JIS?); "
                           "save it as UTF-8") from exc
    cut = _cut_text(text)
    if cut is not None:
        raise ContentError(name, cut, "a '#' after a space starts a YAML comment, so the text "
                           "ends before it (#9110 would vanish); put the whole text in quotes")
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        at = text.count("\n", 0, exc.position) + 1
        raise ContentError(name, at, f"character U+{exc.character:04X} is not allowed "
                           "in YAML; remove it") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        started = ""
        if exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            started = f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise ContentError(name, line, f"YAML syntax: {exc.problem or exc}{started}") from exc


class Checker:
    """Collects every problem of one content file, instead of stopping at the first."""

    def __init__(self, file: str):
        self.file = file
        self.errors: list[ContentError] = []

    def error(self, line: int | None, message: str) -> None:
        """Record a problem at a line."""
        self.errors.append(ContentError(self.file, line, message))

    def keys(self, node: Any, allowed: set[str], what: str) -> bool:
        """Check that `node` is a mapping with only allowed keys (catches misspellings)."""
        if not isinstance(node, dict):
            self.error(line_of(node) or None, f"{what} must be a mapping")
            return False
        for key in node:
            if key not in allowed:
                self.error(key_line(node, key), f"unknown key {key!r} in {what}; "
                           f"allowed: {', '.join(sorted(allowed))}")
        return True

    def strings(self, node: Any, line: int, what: str) -> tuple[str, ...]:
        """Read an optional list of non-empty texts."""
        if node is None:
            return ()
        if not isinstance(node, list) or not all(isinstance(w, str) and w for w in node):
            self.error(line, f"{what} must be a list of texts")
            return ()
        return tuple(node)


def key_line(node: Any, key: Any) -> int:
    """Return the line where a mapping's `key` is written, when known."""
    return node.line_of(key) if isinstance(node, LineDict) else line_of(node)


def item_lines(node: Any) -> list[int]:
    """Return the line of each item of a loaded YAML sequence, when known."""
    return node.item_lines if isinstance(node, LineList) else [line_of(node)] * len(node)


def line_of(node: Any, default: int = 0) -> int:
    """Return the line a loaded YAML value starts on, when known."""
    return getattr(node, "line", default)
