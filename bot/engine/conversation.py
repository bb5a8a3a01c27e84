"""The conversation engine: (stored state, inbound, its time) -> (new state, reply).

No clock, no network, no platform SDK: the same engine serves LINE, the
terminal chat and tests.
"""
from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any, Callable, Mapping

from .conditions import holds
from .flows import ButtonSpec, FlowSpec, StateSpec
from .machine import NEXT, CompiledFlow
from .normalize import normalize
from .types import Button, ConvState, Inbound, Message, Outcome, Reply, Text

HISTORY_MAX = 30     # steps kept for 戻る
CHAIN_MAX = 20       # automatic `next` steps in one turn, against loops in content

ContactsRenderer = Callable[[dict, Mapping[str, Any], Inbound], list[Message]]


def button_data(state: str, button_id: str) -> str:
    """Encode a button tap so it names the state it was offered in."""
    return f"b:{state}:{button_id}"


def command_data(name: str) -> str:
    """Encode a command button."""
    return f"c:{name}"


class Engine:
    """Runs conversations over compiled flows."""

    def __init__(self, flows: Mapping[str, CompiledFlow], entry: str,
                 idle_timeout: timedelta = timedelta(hours=24),
                 contacts: ContactsRenderer | None = None):
        self.flows = dict(flows)
        self.entry = entry
        self.idle_timeout = idle_timeout
        self.contacts = contacts

    @property
    def spec(self) -> FlowSpec:
        return self.flows[self.entry].spec

    def new_conversation(self) -> ConvState:
        """Return the state of a conversation that has not started."""
        return ConvState(flow=self.entry)

    def handle(self, conv: ConvState | None, inbound: Inbound) -> Outcome:
        """Answer one inbound for one conversation."""
        conv = copy.deepcopy(conv) if conv else self.new_conversation()
        reply = Reply()
        fired: list[str] = []
        fresh = conv.state is None or conv.flow not in self.flows \
            or conv.state not in self.flows[conv.flow].spec.states
        idle = conv.last_active is not None and inbound.at - conv.last_active > self.idle_timeout
        if inbound.kind == "group":
            self._group_notice(conv, reply)
        elif inbound.kind == "follow":
            self._restart(conv, reply, inbound, prefix="greeting")
        elif fresh or idle:
            self._restart(conv, reply, inbound, prefix="welcome_back" if idle else "greeting")
            if inbound.kind in ("text", "button"):
                self._answer(conv, reply, inbound, fired, quiet=True)
        elif inbound.kind == "other":
            self._say_message(reply, "non_text")
            self._reshow(conv, reply)
        else:
            self._answer(conv, reply, inbound, fired, quiet=False)
        conv.last_active = inbound.at
        return Outcome(conv, reply, fired)

    # -- the steps of a turn -------------------------------------------------

    def _group_notice(self, conv: ConvState, reply: Reply) -> None:
        """In a group, say once that we only talk one to one; then stay quiet there."""
        if not conv.flags.get("group_notice_sent"):
            self._say_message(reply, "group_notice")
            conv.flags["group_notice_sent"] = True

    def _answer(self, conv: ConvState, reply: Reply, inbound: Inbound,
                fired: list[str], quiet: bool) -> None:
        """Act on a tap or typed words: a command, a button, or 'not understood'."""
        command = self._command(inbound)
        if command:
            fired.append(f"command:{command}")
            self._run_command(command, conv, reply, inbound)
            return
        button = self._button(conv, inbound)
        if button is not None:
            fired.append(f"button:{conv.state}.{button.id}")
            self._take(conv, button, reply, inbound)
            return
        if not quiet:
            self._say_message(reply, "not_understood")
            self._reshow(conv, reply)

    def _command(self, inbound: Inbound) -> str | None:
        if inbound.kind == "button" and inbound.data.startswith("c:"):
            name = inbound.data[2:]
            return name if name in self.spec.commands else None
        said = normalize(inbound.text)
        for command in self.spec.commands.values():
            if said and said in {normalize(w) for w in (command.label,) + command.words}:
                return command.name
        return None

    def _button(self, conv: ConvState, inbound: Inbound) -> ButtonSpec | None:
        state = self._state(conv)
        text = inbound.text
        if inbound.kind == "button" and inbound.data.startswith("b:"):
            _, offered_in, bid = inbound.data.split(":", 2)
            if offered_in == conv.state:
                return next((b for b in state.buttons if b.id == bid), None)
            # A button from an earlier message: read its label as words said now.
            earlier = self.flows[conv.flow].spec.states.get(offered_in)
            tapped = next((b for b in earlier.buttons if b.id == bid), None) if earlier else None
            text = tapped.label if tapped else ""
        return match_button(state, text)

    def _take(self, conv: ConvState, button: ButtonSpec, reply: Reply, inbound: Inbound) -> None:
        answers = {**conv.answers, **button.set}
        target = self.flows[conv.flow].fire(conv.state, button.id, answers)
        self._push_history(conv)
        conv.answers = answers
        if target is None:  # a button without `to` records the answer and stays
            self._reshow(conv, reply)
            return
        self._enter(conv, target, reply, inbound)

    def _run_command(self, name: str, conv: ConvState, reply: Reply, inbound: Inbound) -> None:
        if name == "restart":
            self._restart(conv, reply, inbound, prefix=None)
        elif name == "back":
            if not conv.history:
                self._say_message(reply, "nothing_to_go_back_to")
                self._reshow(conv, reply)
                return
            step = conv.history.pop()
            conv.answers = step["answers"]
            self._enter(conv, step["state"], reply, inbound, chain=False)
        elif name == "help":
            self._say_message(reply, "help")
            self._reshow(conv, reply)
        elif name == "contacts":
            target = self.spec.commands[name].to
            self._push_history(conv)
            self._enter(conv, target, reply, inbound)

    def _restart(self, conv: ConvState, reply: Reply, inbound: Inbound, prefix: str | None) -> None:
        conv.flow, conv.answers, conv.history = self.entry, {}, []
        if prefix:
            self._say_message(reply, prefix)
        self._enter(conv, self.spec.start, reply, inbound)

    def _enter(self, conv: ConvState, target: str, reply: Reply, inbound: Inbound,
               chain: bool = True) -> None:
        """Move to `target`, say what it says, and follow `next` steps."""
        flow = self.flows[conv.flow]
        for _ in range(CHAIN_MAX):
            conv.state = target
            state = flow.spec.states[target]
            reply.messages.extend(self._say(state, conv.answers, inbound))
            following = flow.fire(target, NEXT, conv.answers) if chain else None
            if following is None:
                break
            target = following
        reply.buttons = self._buttons(conv)

    # -- what is said --------------------------------------------------------

    def _say(self, state: StateSpec, answers: Mapping[str, Any], inbound: Inbound) -> list[Message]:
        out: list[Message] = []
        for item in state.say:
            if not holds(item.when, answers):
                continue
            if item.text is not None:
                out.append(Text(item.text))
            elif self.contacts is not None:
                out.extend(self.contacts(item.contacts or {}, answers, inbound))
        return out

    def _say_message(self, reply: Reply, key: str) -> None:
        text = self.spec.messages.get(key)
        if text:
            reply.messages.append(Text(text))

    def _reshow(self, conv: ConvState, reply: Reply) -> None:
        reply.buttons = self._buttons(conv)

    def _buttons(self, conv: ConvState) -> list[Button]:
        state = self._state(conv)
        if state.buttons:
            return [Button(b.label, button_data(state.name, b.id), b.label) for b in state.buttons]
        return [Button(c.label, command_data(c.name), c.label)
                for c in self.spec.commands.values() if c.name != "back" or conv.history]

    def _state(self, conv: ConvState) -> StateSpec:
        return self.flows[conv.flow].spec.states[conv.state]

    def _push_history(self, conv: ConvState) -> None:
        conv.history.append({"state": conv.state, "answers": dict(conv.answers)})
        del conv.history[:-HISTORY_MAX]


def match_button(state: StateSpec, text: str) -> ButtonSpec | None:
    """Find the one button typed words mean: a label or word said exactly, else one contained."""
    said = normalize(text)
    if not said:
        return None
    for button in state.buttons:
        if said in {normalize(w) for w in (button.label,) + button.words}:
            return button
    contained = [b for b in state.buttons
                 if any(len(normalize(w)) >= 2 and normalize(w) in said for w in b.words)]
    return contained[0] if len(contained) == 1 else None

