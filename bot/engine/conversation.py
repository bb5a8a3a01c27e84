"""The conversation engine: (stored state, inbound, its time) -> (new state, reply).

No clock, no network, no platform SDK: the same engine serves LINE, the
terminal chat and tests.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Mapping

from ..nlu import Signals
from .conditions import holds
from .flows import COMMANDS, ButtonSpec, FlowSpec, SayItem, StateSpec
from .handoff import (ALERT, DELETE_CONFIRM, HANDOFF_CONFIRM, MISSES_BEFORE_OFFER, RESERVED,
                      DeskView, StaffTalk)
from .english import english_reply
from .machine import NEXT, CompiledFlow
from .matching import answer_button, contained_button, exact_button
from .normalize import folded_words, normalize, without_polite_tail
from .postback import Postback
from .safety import CHECKS, Safety
from .stale import stale_answer
from .types import Button, ConvState, Inbound, Message, Outcome, Reply, Text

HISTORY_MAX = 30     # steps kept for 戻る
CHAIN_MAX = 20       # automatic `next` steps in one turn, against loops in content
VAGUE = ("unsure", "unknown", "other")  # answers that only ever answer the question asked

ContactsRenderer = Callable[[dict, Mapping[str, Any], Inbound], list[Message]]
Classifier = Callable[[str], Signals]


def button_data(state: str, button_id: str) -> str:
    """Encode a button tap so it names the state it was offered in."""
    return Postback.button(state, button_id).encode()


def command_data(name: str) -> str:
    """Encode a command button."""
    return Postback.command(name).encode()


class Engine:
    """Runs conversations over compiled flows."""

    def __init__(self, flows: Mapping[str, CompiledFlow], entry: str,
                 idle_timeout: timedelta = timedelta(hours=24),
                 contacts: ContactsRenderer | None = None, classifier: Classifier | None = None,
                 staff: Any = None):
        self.flows = dict(flows)
        self.entry = entry
        self.idle_timeout = idle_timeout
        self.contacts = contacts
        self.classifier = classifier
        self.staff = staff  # staff hours (bot.staff.StaffDesk), for handoff messages
        self.handoff = StaffTalk(self)  # staff requests, waiting, deletion
        self.safety = Safety(self)      # danger, crisis and medical emergencies

    @property
    def spec(self) -> FlowSpec:
        return self.flows[self.entry].spec

    def new_conversation(self) -> ConvState:
        """Return the state of a conversation that has not started."""
        return ConvState(flow=self.entry)

    def handle(self, conv: ConvState | None, inbound: Inbound,
               desk: DeskView | None = None) -> Outcome:
        """Answer one inbound for one conversation; `desk` is its request for staff, if any."""
        desk = desk or DeskView()
        conv = conv.copy() if conv else self.new_conversation()
        reply = Reply()
        fired: list[str] = []
        actions: list[str] = []
        signals = self.classifier(inbound.text) if self.classifier and inbound.kind == "text" \
            else Signals()
        fired += [f"rule:{r}" for r in signals.matched]
        fired += [f"model:{k}" for k, by in signals.by.items() if by == "model"]
        if inbound.kind == "group":
            self._group_notice(conv, reply)
        elif desk.status == "claimed":  # staff have the conversation: the bot says nothing
            if inbound.receipt:  # read when staff answer, not before (desk.py)
                conv.flags["unread"] = inbound.receipt
            self.safety.record(conv, signals, inbound.at)
            actions += [ALERT + n for n in ("danger", "crisis") if n in self.safety.sure(signals)]
        else:  # the bot answers, and the channel marks the message read with its answer
            conv.flags.pop("unread", None)
            self._turn(conv, reply, inbound, signals, desk, fired, actions)
        conv.last_active = inbound.at
        return Outcome(conv, reply, fired, actions)

    def _turn(self, conv: ConvState, reply: Reply, inbound: Inbound, signals: Signals,
              desk: DeskView, fired: list[str], actions: list[str]) -> None:
        if inbound.kind == "text" and signals.language not in ("ja", "") and \
                not self._a_word_in_japanese(conv, inbound):
            english_reply(self, conv, reply, inbound, signals, fired, actions,
                          waiting=desk.status == "waiting")
            return
        self.safety.record(conv, signals, inbound.at)
        alarms = self.safety.sure(signals)
        actions += [ALERT + n for n in ("danger", "crisis") if n in alarms]
        if desk.status == "waiting":
            if alarms:
                fired += [f"interrupt:{a}" for a in alarms]
                reply.messages.extend(self.safety.alarm_messages(
                    alarms, {**conv.answers, **signals.answers()}, inbound))
            self.handoff.while_waiting(conv, reply, inbound, desk, bool(alarms), actions,
                                       signals.check)
            return
        if inbound.kind == "follow":
            self._restart(conv, reply, inbound, prefix="greeting")
            return
        if alarms:  # the alarm is the whole answer: no interview, no greeting
            self.safety.alarm_turn(conv, reply, inbound, signals, alarms, fired)
            return
        stale = self._stale(conv, inbound)
        if not stale and stale_answer(self, conv, reply, inbound, signals, fired, actions):
            return
        if conv.state in CHECKS and not stale and not self._command(inbound):
            self.safety.on_answer(conv, reply, inbound, signals, fired, actions)
            return
        check = self.safety.should_ask(conv, signals, inbound.at)
        if check and inbound.kind == "text" and not self._is_an_answer(conv, inbound, stale) \
                and not self._command(inbound):  # やり直したい is a command, not a question
            self.safety.ask(conv, reply, inbound, signals, check, fired)
            return
        if self.safety.wants_to_go_on(inbound) and not stale:
            fired.append("command:continue")
            conv.flags.pop("after_alarm", None)
            self.resume(conv, reply, inbound)
        elif conv.state in RESERVED and not self._command(inbound) and not stale:
            self.handoff.confirming(conv, reply, inbound, actions, desk)
        elif stale:
            self._restart(conv, reply, inbound, prefix=stale)
            if inbound.kind in ("text", "button"):
                self._answer(conv, reply, inbound, signals, fired, after="restart")
        elif inbound.kind == "other":
            self._say_message(reply, "non_text")
            self._reshow(conv, reply)
        else:
            greet = conv.flags.pop("greet", None)  # an alarm came before the greeting
            if greet:
                self._say_message(reply, greet)
            self._answer(conv, reply, inbound, signals, fired, after=None)

    @staticmethod
    def _a_word_in_japanese(conv: ConvState, inbound: Inbound) -> bool:
        """One Latin word (ok, www, SNS, help) from someone who has answered in Japanese, and
        never been answered in English: too little to switch language; the flow reads it."""
        return bool(conv.answers or conv.history) and conv.flags.get("language") is None and \
            len(inbound.text.split()) == 1

    def _is_an_answer(self, conv: ConvState, inbound: Inbound, stale: str | None) -> bool:
        """Typed words that are exactly one of the offered buttons: an answer, as a tap is."""
        if stale or conv.state is None or conv.state in RESERVED + CHECKS:
            return False
        return exact_button(self._state(conv), inbound.text) is not None

    def _stale(self, conv: ConvState, inbound: Inbound) -> str | None:
        """Why the conversation must start afresh (the message to say), or None."""
        if conv.state is None:
            return "greeting"
        if conv.last_active is not None and inbound.at - conv.last_active > self.idle_timeout:
            return "welcome_back"
        if conv.state not in RESERVED + CHECKS and (
                conv.flow not in self.flows or conv.state not in self.flows[conv.flow].spec.states):
            return "content_changed"
        return None

    def settle(self, conv: ConvState, inbound: Inbound) -> None:
        """Before an alarm or a question about one: a state the interview can go on from."""
        stale = self._stale(conv, inbound)
        if stale:
            conv.flow, conv.answers, conv.history = self.entry, {}, []
            conv.state = self.spec.start
            conv.flags["greet"] = stale
        elif conv.state in RESERVED + CHECKS:
            conv.flags.pop("asked_again", None)
            conv.flags.pop("check_about", None)
            self.handoff.back_to(conv)

    def resume(self, conv: ConvState, reply: Reply, inbound: Inbound) -> None:
        """Go on with the interview where the person was, skipping what is already known."""
        greet = conv.flags.pop("greet", None)
        if greet:
            self._say_message(reply, greet)
        if conv.state is None or conv.state in CHECKS or conv.state not in \
                self.flows.get(conv.flow, self.flows[self.entry]).spec.states:
            self._restart(conv, reply, inbound, prefix=None)
            return
        self._enter(conv, conv.state, reply, inbound)

    def describe(self, inbound: Inbound) -> str:
        """What the person did, as a transcript line: their words, or the button they tapped."""
        if inbound.kind == "text":
            return inbound.text
        if inbound.kind == "other":
            return "（スタンプ・画像など）"
        if inbound.kind != "button":
            return ""
        data, tapped = inbound.data, Postback.decode(inbound.data)
        if tapped.kind == "button":
            spec = self.spec.states.get(tapped.state)
            button = next((b for b in spec.buttons if b.id == tapped.name), None) if spec else None
            return f"［ボタン］{button.label}" if button else f"［ボタン］{data}"
        if tapped.kind == "command":
            name = tapped.name
            label = self.spec.handoff.get("label") if name == "staff" else \
                self.spec.commands[name].label if name in self.spec.commands else name
            return f"［ボタン］{label}"
        section = {HANDOFF_CONFIRM: self.spec.handoff,
                   DELETE_CONFIRM: self.spec.deletion}.get(tapped.state)
        if tapped.kind == "answer" and section:
            return f"［ボタン］{section[tapped.name]}"
        if tapped.kind == "cancel":
            return f"［ボタン］{self.spec.handoff.get('cancel_label', data)}"
        return f"［ボタン］{inbound.text or data}"

    # -- the steps of a turn -------------------------------------------------

    def _group_notice(self, conv: ConvState, reply: Reply) -> None:
        """In a group, say once that we only talk one to one; then stay quiet there."""
        if not conv.flags.get("group_notice_sent"):
            self._say_message(reply, "group_notice")
            conv.flags["group_notice_sent"] = True

    def _answer(self, conv: ConvState, reply: Reply, inbound: Inbound, signals: Signals,
                fired: list[str], after: str | None) -> None:
        """Act on a tap or typed words: a command, a button, an answer read from words, or ask again.

        `after` is "restart" when the question was just asked (nothing more to say if the
        words answer nothing).
        """
        command = self._command(inbound)
        if command:
            fired.append(f"command:{command}")
            self._run_command(command, conv, reply, inbound)
            return
        state = self._state(conv)
        learned = self.learn(conv, signals, state.asks)
        button = self._tapped(conv, inbound) or exact_button(state, inbound.text)
        inferred = False
        if button is None and state.asks in learned:
            button = answer_button(state, conv.answers)
            inferred = button is not None
        button = button or contained_button(state, inbound.text)
        if button is None and self._from_earlier_question(conv, inbound):
            fired.append("stale:button")
            self._say_message(reply, "stale_button" if "stale_button" in self.spec.messages
                              else "not_understood")
            reply.messages.extend(self._say(state, conv.answers, inbound))
            self._reshow(conv, reply)
            return
        if button is not None and button.command:
            fired.append(f"command:{button.command}")
            self._run_command(button.command, conv, reply, inbound)
        elif button is not None:
            conv.flags["misses"] = 0
            fired.append(f"button:{conv.state}.{button.id}")
            self._take(conv, button, reply, inbound, inferred=inferred)
        elif after == "restart":
            question = self._say(state, conv.answers, inbound)
            self.note(conv, reply, learned, at=len(reply.messages) - len(question))
            self._reshow(conv, reply)
        elif learned:  # understood something for later, not this question: ask it again
            self.note(conv, reply, learned)
            reply.messages.extend(self._say(state, conv.answers, inbound))
            self._reshow(conv, reply)
        elif self._small_talk(reply, inbound):
            self._reshow(conv, reply)
        elif inbound.kind == "text" and (alarm := self.safety.ask_again(signals)):
            # Words that answer nothing but show possible danger or crisis (after a "no",
            # やっぱりつらい): ask about it again rather than say they could not be read.
            self.safety.ask(conv, reply, inbound, signals, alarm, fired)
        elif conv.flags.get("after_alarm"):
            # after an alarm, 返事ください or …: not "could not read", but the way on again
            self.safety.offer_to_go_on(reply)
        else:
            conv.flags["misses"] = conv.flags.get("misses", 0) + 1
            self._say_message(reply, "not_understood")
            self._reshow(conv, reply)
            if conv.flags["misses"] >= MISSES_BEFORE_OFFER:
                self.handoff.offer_staff(reply)

    def _small_talk(self, reply: Reply, inbound: Inbound) -> bool:
        """Thanks, a greeting or only an emoji: a kind word, not 'I did not understand'."""
        said = normalize(inbound.text)
        if not said:
            return False
        if not any(ch.isalnum() for ch in said):  # 😢, 🙏, ……: a feeling, not an answer
            self._say_message(reply, "feeling")
            return True
        for words, text in self.spec.small_talk.values():
            if any(w in said for w in folded_words(tuple(words)) if len(w) >= 2):
                reply.messages.append(Text(text))
                return True
        return False

    def learn(self, conv: ConvState, signals: Signals, asks: str | None) -> set[str]:
        """Keep what the words showed: the asked answer always, others only where unknown.

        "I don't know" (unsure, unknown, other) only ever answers the question asked:
        said about one thing, it must not skip the question about another.
        """
        learned = set()
        for key, value in signals.answers().items():
            if key != asks and value in VAGUE:
                continue
            if key == asks or key not in conv.answers:
                conv.answers[key] = value
                learned.add(key)
        if learned:
            conv.flags["inferred"] = sorted(set(conv.flags.get("inferred", [])) | learned)
        return learned

    def _command(self, inbound: Inbound) -> str | None:
        tapped = Postback.decode(inbound.data)
        if inbound.kind == "button" and tapped.kind == "command":
            name = tapped.name
            return name if name in self.spec.commands or name in ("staff", "delete") else None
        said = normalize(inbound.text)
        if said and any(p in said for p in folded_words(tuple(self.spec.handoff.get("phrases", ())))):
            return "staff"  # 夜中にすみません。人間と話したい: asked for anywhere in the message
        for form in dict.fromkeys((said, without_polite_tail(said))):  # as said, then bare
            for name, section in (("staff", self.spec.handoff), ("delete", self.spec.deletion)):
                if form and form in folded_words(tuple(section.get("words", ()))):
                    return name
            for command in self.spec.commands.values():
                if form and form in folded_words((command.label,) + tuple(command.words)):
                    return command.name
        return None

    def _tapped(self, conv: ConvState, inbound: Inbound) -> ButtonSpec | None:
        """The button tapped, if it belongs to the current question."""
        data = Postback.decode(inbound.data)
        if inbound.kind != "button" or data.kind != "button":
            return None
        state = self._state(conv)
        offered_in, bid = data.state, data.name
        if offered_in == conv.state:
            return next((b for b in state.buttons if b.id == bid), None)
        # A button from an earlier message counts only where the current question offers
        # the same button (合う相談窓口を見る): わからない to the age is no answer to another question.
        earlier = self.flows[conv.flow].spec.states.get(offered_in)
        tapped = next((b for b in earlier.buttons if b.id == bid), None) if earlier else None
        return next((b for b in state.buttons if tapped and b.id == tapped.id
                     and b.label == tapped.label), None)

    def _from_earlier_question(self, conv: ConvState, inbound: Inbound) -> bool:
        """A tap on a flow button that belongs to another question than the current one."""
        data = Postback.decode(inbound.data)
        return inbound.kind == "button" and data.kind == "button" and data.state != conv.state

    def _take(self, conv: ConvState, button: ButtonSpec, reply: Reply, inbound: Inbound,
              inferred: bool = False) -> None:
        answers = {**conv.answers, **button.set}
        conv.flags.pop("after_alarm", None)  # answering again: the interview goes on
        target = self.flows[conv.flow].fire(self._state(conv).name, button.id, answers)
        self._push_history(conv)
        conv.answers = answers
        read = [button.label] if inferred else []
        if not inferred:  # answered explicitly: these answers are no longer guesses
            conv.flags["inferred"] = [k for k in conv.flags.get("inferred", []) if k not in button.set]
        if target is None:  # a button without `to` records the answer and stays
            if read:
                self._acknowledge(reply, read)
            self._reshow(conv, reply)
            return
        self._enter(conv, target, reply, inbound, read=read)

    def _run_command(self, name: str, conv: ConvState, reply: Reply, inbound: Inbound) -> None:
        if name == "staff":
            self.handoff.ask_confirmation(conv, reply, HANDOFF_CONFIRM, "handoff", inbound.at)
        elif name == "delete":
            self.handoff.ask_confirmation(conv, reply, DELETE_CONFIRM, "deletion")
        elif name == "restart":
            self._restart(conv, reply, inbound, prefix=None)
        elif name == "back":
            if conv.state in RESERVED + CHECKS:  # leave the question for the one it interrupted
                self.handoff.back_to(conv)
                self._enter(conv, conv.state, reply, inbound, chain=False)
                return
            if not conv.history:
                self._say_message(reply, "nothing_to_go_back_to")
                self._reshow(conv, reply)
                return
            step = conv.history.pop()
            conv.answers = step["answers"]
            self._enter(conv, step["state"], reply, inbound, chain=False)
        elif name == "help":
            if conv.state in CHECKS:  # the safety question stays open: asked again after help
                self._say_message(reply, "help")
                self.safety.ask_pending(conv, reply)
                return
            if conv.state in RESERVED:
                self.handoff.back_to(conv)
            self._say_message(reply, "help")
            self._reshow(conv, reply)
        elif self.spec.commands.get(name) and self.spec.commands[name].to:
            target = self.spec.commands[name].to  # contacts, emergency: a state to show
            assert target is not None
            if conv.state in RESERVED + CHECKS:
                self.handoff.back_to(conv)
            self._push_history(conv)
            self._enter(conv, target, reply, inbound)

    def _restart(self, conv: ConvState, reply: Reply, inbound: Inbound, prefix: str | None) -> None:
        conv.flow, conv.answers, conv.history = self.entry, {}, []
        conv.flags.pop("greet", None)
        if prefix:
            self._say_message(reply, prefix)
        self._enter(conv, self.spec.start, reply, inbound)

    def _enter(self, conv: ConvState, target: str, reply: Reply, inbound: Inbound,
               chain: bool = True, read: list[str] | None = None) -> None:
        """Move to `target`, say what it says, follow `next`, and skip questions already answered.

        `read` are answers taken from the person's words, acknowledged with any skipped here.
        """
        flow = self.flows[conv.flow]
        skipped: list[str] = list(read or [])
        ack_at = len(reply.messages)
        for _ in range(CHAIN_MAX):
            conv.state = target
            state = flow.spec.states[target]
            known = answer_button(state, conv.answers) if chain else None
            if known is not None:
                if state.asks in conv.flags.get("inferred", []):
                    skipped.append(known.label)
                self._push_history(conv)
                conv.answers = {**known.set, **conv.answers}
                following = flow.fire(target, known.id, conv.answers)
            else:
                reply.messages.extend(self._say(state, conv.answers, inbound))
                following = flow.fire(target, NEXT, conv.answers) if chain else None
            if following is None:
                break
            target = following
        if skipped:
            self._acknowledge(reply, skipped, at=ack_at)
        reply.buttons = self._buttons(conv)

    def note(self, conv: ConvState, reply: Reply, learned: set[str], at: int | None = None) -> None:
        """Say at once what the words told for later questions (「つきまとわれている」とうかがいました)."""
        labels = []
        for state in self.flows[conv.flow].spec.states.values():
            if state.asks in learned:
                button = answer_button(state, conv.answers)
                if button is not None and button.label not in labels:
                    labels.append(button.label)
        template = self.spec.messages.get("noted", "")
        if labels and template:
            text = Text(template.replace("{labels}", "」「".join(labels)))
            reply.messages.insert(len(reply.messages) if at is None else max(at, 0), text)

    def _acknowledge(self, reply: Reply, labels: list[str], at: int | None = None) -> None:
        """Say what was read from the person's words, so that nothing is guessed silently."""
        template = self.spec.messages.get("understood", "")
        text = Text(template.replace("{labels}", "」「".join(labels)))
        reply.messages.insert(len(reply.messages) if at is None else at, text)

    # -- what is said --------------------------------------------------------

    def _say(self, state: StateSpec, answers: Mapping[str, Any], inbound: Inbound) -> list[Message]:
        return self.say_items(state.say, answers, inbound)

    def say_items(self, items: tuple[SayItem, ...], answers: Mapping[str, Any],
                   inbound: Inbound) -> list[Message]:
        out: list[Message] = []
        for item in items:
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
        return [Button(c.label, command_data(c.name), c.label) for c in self.spec.commands.values()
                if c.name in COMMANDS and (c.name != "back" or conv.history)]

    def _state(self, conv: ConvState) -> StateSpec:
        assert conv.state is not None, "a conversation in no state has no question"
        return self.flows[conv.flow].spec.states[conv.state]

    def _push_history(self, conv: ConvState) -> None:
        if conv.state in RESERVED:
            return
        conv.history.append({"state": conv.state, "answers": dict(conv.answers)})
        del conv.history[:-HISTORY_MAX]
