"""Flow files (`flows/*.yaml`) read into checked, immutable specs.

A flow names its states; a state says messages, offers buttons, and moves on:
a button (tapped, or matched by its words) goes `to` a state, possibly chosen
by conditions on the stored answers; `next` moves on without waiting. Every
mistake is reported as `file:line: what is wrong`, all at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import yamlsrc
from ..yamlsrc import ContentError, item_lines, key_line
from . import conditions, limits

COMMANDS = ("restart", "back", "contacts", "help")
OPTIONAL_COMMANDS = ("emergency",)  # 緊急のとき (the rich menu): a state with 110, 119, crisis lines
BUTTON_COMMANDS = COMMANDS + OPTIONAL_COMMANDS + ("staff", "delete")  # also staff or deletion
MESSAGES = ("greeting", "welcome_back", "not_understood", "non_text",
            "group_notice", "help", "nothing_to_go_back_to", "understood", "noted",
            "content_changed", "feeling")
OPTIONAL_MESSAGES = ("stale_button",)  # a tap on an earlier question's button
INTERRUPTS = ("medical", "danger", "crisis")
# Said after a "no" to the safety question, before the interview goes on (optional).
AFTER_NO = ("no_crisis", "no_danger")
HANDOFF_TEXTS = ("confirm", "confirm_closed", "waiting", "after_hours", "after_hours_alarm",
                 "after_hours_again", "still_waiting",
                 "cancelled", "declined", "returned", "closed", "offer")
HANDOFF_LABELS = ("label", "yes", "no", "cancel_label")
DELETION_TEXTS = ("confirm", "done", "kept")
DELETION_LABELS = ("yes", "no")
SAFETY_TEXTS = ("ask_crisis", "ask_crisis_other", "ask_danger", "ask_danger_other", "thanks_no",
                "ask_again", "after_alarm")
SAFETY_LABELS = ("yes", "no", "continue_label")
SAFETY_WORDS = ("yes_words", "no_words", "unsure_words", "continue_words")
ENGLISH_TEXTS = ("intro", "medical", "danger", "crisis", "emergency", "windows", "staff", "again",
                 "waiting")
TOP_KEYS = {"flow", "start", "messages", "commands", "states", "interrupts", "handoff", "deletion",
            "safety", "english", "small_talk"}
STATE_KEYS = {"say", "buttons", "next", "end", "asks"}
BUTTON_KEYS = {"id", "label", "words", "set", "to", "command"}
COMMAND_KEYS = {"label", "words", "to"}
SAY_KEYS = {"text", "when", "contacts"}
ROUTE_KEYS = {"when", "to"}


@dataclass(frozen=True)
class Route:
    """Go to `to` when `when` holds (no `when`: always)."""

    to: str
    when: dict | None = None
    line: int = 0


@dataclass(frozen=True)
class SayItem:
    """A message a state says: text, or a list of windows; either may carry a condition."""

    text: str | None = None
    contacts: dict | None = None
    when: dict | None = None
    line: int = 0


@dataclass(frozen=True)
class ButtonSpec:
    """A choice offered in a state."""

    id: str
    label: str
    words: tuple[str, ...] = ()
    set: dict = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    command: str | None = None  # instead of `to`: run restart, back, contacts or help
    line: int = 0


@dataclass(frozen=True)
class StateSpec:
    """One state of a flow."""

    name: str
    say: tuple[SayItem, ...] = ()
    buttons: tuple[ButtonSpec, ...] = ()
    next: tuple[Route, ...] = ()
    end: bool = False
    line: int = 0
    asks: str | None = None  # the answer this question asks for; skipped when already known


@dataclass(frozen=True)
class CommandSpec:
    """A command that works in every state (restart, back, contacts, help)."""

    name: str
    label: str
    words: tuple[str, ...]
    to: str | None = None


@dataclass
class FlowSpec:
    """A whole flow file, checked."""

    name: str
    file: str
    start: str
    states: dict[str, StateSpec]
    messages: dict[str, str]
    commands: dict[str, CommandSpec]
    interrupts: dict[str, tuple[SayItem, ...]] = field(default_factory=dict)
    handoff: dict[str, Any] = field(default_factory=dict)
    deletion: dict[str, Any] = field(default_factory=dict)
    safety: dict[str, Any] = field(default_factory=dict)
    english: dict[str, Any] = field(default_factory=dict)
    small_talk: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)  # words, say


class FlowErrors(Exception):
    """All the mistakes found in the flow files."""

    def __init__(self, errors: list[ContentError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class _Reader(yamlsrc.Checker):
    """Reads one flow file, collecting every problem instead of stopping at the first."""

    def text(self, node: Any, line: int, what: str) -> str:
        if not isinstance(node, str) or not node.strip():
            self.error(line, f"{what} must be non-empty text")
            return ""
        if limits.utf16_len(node) > limits.TEXT_MAX_UTF16:
            self.error(line, f"{what} has {limits.utf16_len(node)} UTF-16 units; "
                       f"LINE allows {limits.TEXT_MAX_UTF16}")
        return node

    def label(self, node: Any, line: int) -> str:
        label = self.text(node, line, "a button label")
        if len(label) > limits.LABEL_MAX:
            self.error(line, f"button label {label!r} has {len(label)} characters; "
                       f"LINE allows {limits.LABEL_MAX}")
        return label

    def words(self, node: Any, line: int) -> tuple[str, ...]:
        return self.strings(node, line, "words")

    def condition(self, node: Any, line: int) -> dict | None:
        if node is None:
            return None
        for problem in conditions.problems(node):
            self.error(line, problem)
        return dict(node) if isinstance(node, dict) else None

    def routes(self, node: Any, line: int) -> tuple[Route, ...]:
        if node is None:
            return ()
        if isinstance(node, str):
            return (Route(node, None, line),)
        if not isinstance(node, list) or not node:
            self.error(line, "a target must be a state name or a list of {when, to}")
            return ()
        out = []
        for item, item_line in zip(node, item_lines(node)):
            if self.keys(item, ROUTE_KEYS, "a route") and isinstance(item.get("to"), str):
                out.append(Route(item["to"], self.condition(item.get("when"), item_line), item_line))
            elif isinstance(item, dict):
                self.error(item_line, "a route needs 'to: STATE'")
        if out and out[-1].when is not None:
            self.error(item_lines(node)[-1], "the last route must have no 'when', "
                       "so that some route always applies")
        return tuple(out)

    def say(self, node: Any, line: int) -> tuple[SayItem, ...]:
        if node is None:
            return ()
        items = node if isinstance(node, list) else [node]
        lines = getattr(node, "item_lines", [line])
        out = []
        for item, item_line in zip(items, lines):
            if isinstance(item, str):
                out.append(SayItem(text=self.text(item, item_line, "a message"), line=item_line))
            elif self.keys(item, SAY_KEYS, "a message"):
                text = item.get("text")
                contacts = item.get("contacts")
                if (text is None) == (contacts is None):
                    self.error(item_line, "a message has either 'text' or 'contacts'")
                if text is not None:
                    self.text(text, item.line_of("text"), "a message")
                if contacts is not None and not isinstance(contacts, dict):
                    self.error(item.line_of("contacts"), "'contacts' must be a mapping")
                out.append(SayItem(text, dict(contacts or {}) if contacts is not None else None,
                                   self.condition(item.get("when"), item_line), item_line))
        if len(out) > limits.MESSAGES_MAX:
            self.error(line, f"a state says {len(out)} messages; LINE allows {limits.MESSAGES_MAX}")
        return tuple(out)

    def button(self, node: Any, line: int, state: str) -> ButtonSpec | None:
        if not self.keys(node, BUTTON_KEYS, "a button"):
            return None
        bid = node.get("id")
        if not isinstance(bid, str) or not bid:
            self.error(line, "a button needs an 'id'")
            bid = ""
        answers = node.get("set") or {}
        if not isinstance(answers, dict):
            self.error(node.line_of("set"), "'set' must be a mapping such as {want: delete}")
            answers = {}
        command = node.get("command")
        if command is not None and (command not in BUTTON_COMMANDS or "to" in node):
            self.error(node.line_of("command"), f"button {bid!r}: 'command' is one of "
                       f"{', '.join(BUTTON_COMMANDS)}, and a button has either 'to' or 'command'")
        data = f"b:{state}:{bid}"
        if len(data) > limits.DATA_MAX:
            self.error(line, f"button {bid!r} sends {len(data)} characters of postback data; "
                       f"LINE allows {limits.DATA_MAX}: shorten the state name or the id")
        return ButtonSpec(bid, self.label(node.get("label"), node.line_of("label")),
                          self.words(node.get("words"), node.line_of("words")),
                          dict(answers), self.routes(node.get("to"), node.line_of("to")), command,
                          line)

    def state(self, name: str, node: Any, line: int) -> StateSpec:
        if node is None:
            node = yamlsrc.LineDict()
            node.line, node.key_lines = line, {}
        if not self.keys(node, STATE_KEYS, f"state {name!r}"):
            return StateSpec(name, line=line)
        raw_buttons = node.get("buttons") or []
        buttons = []
        if not isinstance(raw_buttons, list):
            self.error(node.line_of("buttons"), "'buttons' must be a list")
            raw_buttons = []
        for item, item_line in zip(raw_buttons, getattr(raw_buttons, "item_lines", [])):
            button = self.button(item, item_line, name)
            if button:
                buttons.append(button)
        if len(buttons) > limits.BUTTONS_MAX:
            self.error(node.line_of("buttons"), f"state {name!r} has {len(buttons)} buttons; "
                       f"LINE allows {limits.BUTTONS_MAX}")
        seen: dict[str, int] = {}
        for b in buttons:
            if b.id in seen:
                self.error(b.line, f"button id {b.id!r} is used twice in state {name!r} "
                           f"(first at line {seen[b.id]})")
            seen.setdefault(b.id, b.line)
        asks = node.get("asks")
        if asks is not None and not any(asks in b.set for b in buttons):
            self.error(node.line_of("asks"), f"state {name!r} asks for {asks!r}, but none of "
                       f"its buttons sets {asks!r}")
        return StateSpec(name, self.say(node.get("say"), node.line_of("say")), tuple(buttons),
                         self.routes(node.get("next"), node.line_of("next")),
                         bool(node.get("end", False)), line, asks)

    def section(self, node: Any, name: str, texts: tuple[str, ...], labels: tuple[str, ...],
                words: tuple[str, ...] = ("words",)) -> dict[str, Any]:
        """A section of fixed texts, labels and word lists (handoff:, deletion:, safety:)."""
        if node is None:
            return {}
        allowed = set(texts) | set(labels) | set(words)
        if not self.keys(node, allowed, name):
            return {}
        out: dict[str, Any] = {}
        for key, value in node.items():
            line = node.line_of(key)
            if key in words:
                out[key] = self.words(value, line)
            elif key in labels:
                out[key] = self.label(value, line)
            elif key in texts:
                out[key] = self.text(value, line, f"{name} {key!r}")
        missing = [k for k in (*texts, *labels, *words) if k not in out]
        if missing:
            self.error(yamlsrc.line_of(node), f"{name} needs {', '.join(missing)}")
        return out

    def interrupts(self, node: Any) -> dict[str, tuple[SayItem, ...]]:
        if node is None:
            return {}
        if not self.keys(node, set(INTERRUPTS) | set(AFTER_NO), "interrupts"):
            return {}
        out = {}
        for name, spec in node.items():
            if self.keys(spec, {"say"}, f"interrupt {name!r}"):
                out[name] = self.say(spec.get("say"), spec.line_of("say"))
        return out

    def small_talk(self, node: Any) -> dict[str, tuple[tuple[str, ...], str]]:
        """`small_talk: {thanks: {words: [ありがとう], say: ...}}`: kind answers to small talk."""
        if node is None:
            return {}
        if not isinstance(node, dict):
            self.error(yamlsrc.line_of(node), "small_talk maps a name to {words, say}")
            return {}
        out = {}
        for key, item in node.items():
            if not self.keys(item, {"words", "say"}, f"small_talk {key!r}"):
                continue
            line = yamlsrc.key_line(node, key)
            out[str(key)] = (self.words(item.get("words"), item.line_of("words")),
                             self.text(item.get("say"), item.line_of("say"), f"small_talk {key!r}"))
        return out

    def commands(self, node: Any) -> dict[str, CommandSpec]:
        if node is None:
            return {}
        if not self.keys(node, set(COMMANDS + OPTIONAL_COMMANDS), "commands"):
            return {}
        out = {}
        for name, spec in node.items():
            line = node.line_of(name)
            if name in OPTIONAL_COMMANDS and not spec.get("to"):
                self.error(line, f"command {name!r} needs 'to', the state it shows")
            if name in COMMANDS + OPTIONAL_COMMANDS and \
                    self.keys(spec, COMMAND_KEYS, f"command {name!r}"):
                out[name] = CommandSpec(name, self.label(spec.get("label"), line),
                                        self.words(spec.get("words"), line), spec.get("to"))
        return out

    def messages(self, node: Any) -> dict[str, str]:
        if node is None:
            return {}
        if not self.keys(node, set(MESSAGES + OPTIONAL_MESSAGES), "messages"):
            return {}
        return {k: self.text(v, node.line_of(k), f"message {k!r}") for k, v in node.items()}


def read_flow(path: Path, name: str | None = None) -> tuple[FlowSpec | None, list[ContentError]]:
    """Read one flow file; return the spec (None if unusable) and every problem found."""
    shown = name or f"flows/{path.name}"
    try:
        doc = yamlsrc.load(path, shown)
    except ContentError as exc:
        return None, [exc]
    reader = _Reader(shown)
    if not reader.keys(doc, TOP_KEYS, "a flow file"):
        return None, reader.errors
    flow_name = doc.get("flow") or path.stem
    states_node = doc.get("states")
    if not isinstance(states_node, dict) or not states_node:
        reader.error(doc.line_of("states"), "a flow needs 'states', a mapping of state names")
        return None, reader.errors
    states = {n: reader.state(n, s, key_line(states_node, n)) for n, s in states_node.items()}
    start = doc.get("start")
    if start not in states:
        reader.error(doc.line_of("start"), f"start state {start!r} is not among the states")
        start = next(iter(states))
    spec = FlowSpec(flow_name, shown, start, states, reader.messages(doc.get("messages")),
                    reader.commands(doc.get("commands")), reader.interrupts(doc.get("interrupts")),
                    reader.section(doc.get("handoff"), "handoff", HANDOFF_TEXTS, HANDOFF_LABELS,
                                   ("words", "phrases", "cancel_words")),
                    reader.section(doc.get("deletion"), "deletion", DELETION_TEXTS, DELETION_LABELS),
                    reader.section(doc.get("safety"), "safety", SAFETY_TEXTS, SAFETY_LABELS,
                                   SAFETY_WORDS),
                    reader.section(doc.get("english"), "english", ENGLISH_TEXTS, (), ()),
                    reader.small_talk(doc.get("small_talk")))
    from .graph import check_graph  # the graph checks need the whole spec

    return spec, reader.errors + check_graph(spec, states_node)
