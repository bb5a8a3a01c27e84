"""Danger, crisis and medical emergencies: interrupt when sure, ask when possible.

When the words make an alarm sure, the turn is the alarm and nothing else:
119 for a medical emergency, then 110 and what to do now for danger, then the
crisis lines; then a human, and a button to go on with the interview when the
person is ready. When an alarm is only possible, the bot asks one direct, kind
question with two buttons: yes runs the alarm, no goes back to the question
the person was on. Every detection is recorded on the conversation for staff.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..nlu import MAYBE, SURE, Signals
from .normalize import folded_words, normalize
from .postback import Postback
from .types import Button, ConvState, Inbound, Reply, Text

if TYPE_CHECKING:
    from .conversation import Engine

CHECK = {"crisis": "@check_crisis", "danger": "@check_danger"}
"""Reserved states: the bot asked whether the person is in crisis / in danger."""
CHECKS = tuple(CHECK.values())
ORDER = ("medical", "danger", "crisis")   # 119 first, then 110, then the crisis lines
HELPERS = ("guardian", "school", "friend")  # writing about someone else
CONTINUE = Postback.command("continue").encode()
QUIET = timedelta(hours=6)  # after a "no", the same question is not asked again this soon
DETECTIONS_MAX = 20


class Safety:
    """The engine's collaborator for alarms; it changes only the conversation and the reply."""

    def __init__(self, engine: "Engine"):
        self.engine = engine

    @property
    def texts(self) -> dict[str, Any]:
        return self.engine.spec.safety

    # -- what the words showed ---------------------------------------------------

    @staticmethod
    def sure(signals: Signals) -> list[str]:
        """The alarms the words make sure, in the order they are answered."""
        return [a for a in ORDER if (signals.medical if a == "medical" else
                                     signals.levels.get(a) == SURE)]

    def record(self, conv: ConvState, signals: Signals, at: datetime) -> None:
        """Keep each sure or possible detection on the conversation, for staff (never the words)."""
        for alarm in ("danger", "crisis"):
            level = signals.levels.get(alarm)
            if level:
                self._note(conv, {"kind": alarm, "level": level,
                                  "by": signals.by.get(alarm, ""), "at": at.isoformat()})
            if level == SURE:
                conv.flags[alarm] = True
                conv.flags[f"{alarm}_at"] = at.isoformat()
        if signals.medical:
            conv.flags["medical"] = True

    @staticmethod
    def _note(conv: ConvState, entry: dict[str, Any]) -> None:
        notes = conv.flags.setdefault("detections", [])
        notes.append(entry)
        del notes[:-DETECTIONS_MAX]

    # -- sure: the alarm is the whole turn ---------------------------------------

    def alarm_messages(self, alarms: list[str], answers: dict[str, Any], inbound: Inbound) -> list:
        """The interrupt messages of each alarm, 119 first."""
        out = []
        for name in ORDER:
            if name in alarms:
                out += self.engine.say_items(self.engine.spec.interrupts.get(name, ()),
                                             answers, inbound)
        return out

    def alarm_turn(self, conv: ConvState, reply: Reply, inbound: Inbound, signals: Signals,
                   alarms: list[str], fired: list[str]) -> None:
        """Answer with the alarm only; keep what the words told for when the person goes on."""
        self.engine.settle(conv, inbound)
        self.engine.learn(conv, signals, None)
        fired += [f"interrupt:{a}" for a in alarms]
        reply.messages.extend(self.alarm_messages(alarms, {**conv.answers, **signals.answers()},
                                                  inbound))
        conv.flags["after_alarm"] = True
        self.offer_to_go_on(reply)

    def offer_to_go_on(self, reply: Reply) -> None:
        """After an alarm: a human, and the interview when the person is ready."""
        t = self.texts
        if t.get("after_alarm"):
            reply.messages.append(Text(t["after_alarm"]))
        buttons = [Button(t["continue_label"], CONTINUE, t["continue_label"])] if t else []
        reply.buttons = buttons
        self.engine.handoff.offer_staff(reply, say=False)

    def wants_to_go_on(self, inbound: Inbound) -> bool:
        """The person tapped or wrote that they want to go on with the interview."""
        if inbound.data == CONTINUE:
            return True
        said = normalize(inbound.text)
        return bool(said) and said in folded_words((self.texts.get("continue_label", ""),
                                                    *self.texts.get("continue_words", ())))

    # -- possible: ask -----------------------------------------------------------

    def should_ask(self, conv: ConvState, signals: Signals, at: datetime) -> str | None:
        """The alarm to ask about now, if any (not one the person just said no to)."""
        alarm = signals.check
        if alarm is None or not self.texts:
            return None
        declined = conv.flags.get(f"declined_{alarm}_at")
        if declined and at - datetime.fromisoformat(declined) < QUIET:
            return None
        return alarm

    def ask_again(self, signals: Signals) -> str | None:
        """The alarm to ask about, for words that answer nothing but show it, even one the
        person said no to lately: 「気持ちや状況が変わったら、いつでもここに書いてください」
        is a promise (やっぱりつらい takes the no back); "could not read" would break it."""
        return signals.check if self.texts else None

    def ask(self, conv: ConvState, reply: Reply, inbound: Inbound, signals: Signals,
            alarm: str, fired: list[str]) -> None:
        """Ask directly and kindly whether the person (or the one they write about) is at risk."""
        self.engine.settle(conv, inbound)
        learned = self.engine.learn(conv, signals, None)
        self.engine.note(conv, reply, learned)
        if conv.state not in CHECKS:
            conv.flags["resume_state"] = conv.state
        conv.state = CHECK[alarm]
        conv.flags.pop("asked_again", None)
        fired.append(f"check:{alarm}")
        conv.flags["check_about"] = signals.values.get("audience") or conv.answers.get("audience")
        reply.messages.append(Text(self._question(conv, alarm)))
        reply.buttons = self._yes_no(alarm)

    def ask_pending(self, conv: ConvState, reply: Reply) -> None:
        """The open safety question again (after help): the same words and buttons."""
        alarm = next(a for a, s in CHECK.items() if s == conv.state)
        reply.messages.append(Text(self._question(conv, alarm)))
        reply.buttons = self._yes_no(alarm)

    def _question(self, conv: ConvState, alarm: str) -> str:
        """The question, about the person or about the one they write about."""
        other = conv.flags.get("check_about") in HELPERS
        return self.texts[f"ask_{alarm}_other" if other else f"ask_{alarm}"]

    def _yes_no(self, alarm: str) -> list[Button]:
        t = self.texts
        return [Button(t[a], Postback.answer(CHECK[alarm], a == "yes").encode(), t[a])
                for a in ("yes", "no")]

    def answered(self, conv: ConvState, inbound: Inbound) -> str | None:
        """yes, no, unsure (わからない, ちょっとある: counted as yes), or None when unclear."""
        tapped = Postback.decode(inbound.data)
        if tapped.kind == "answer" and tapped.state == conv.state:
            return tapped.name
        said = normalize(inbound.text)
        if not said:
            return None
        t = self.texts
        for answer in ("yes", "no"):
            if said in folded_words((t[answer], *t.get(f"{answer}_words", ()))):
                return answer
        unsure = any(w and w in said for w in folded_words(tuple(t.get("unsure_words", ()))))
        # いいえ、ちょっと疲れてるだけです: a no, said with more words (unless unsure: ないかも)
        if not unsure and any(len(w) > 1 and said.startswith(w)
                              for w in folded_words((t["no"], *t.get("no_words", ())))):
            return "no"
        return "unsure" if unsure else None

    def on_answer(self, conv: ConvState, reply: Reply, inbound: Inbound, signals: Signals,
                  fired: list[str], actions: list[str]) -> None:
        """The person answered the question: yes runs the alarm, no goes back, unclear asks again."""
        alarm = next(a for a, s in CHECK.items() if s == conv.state)
        answer = self.answered(conv, inbound)
        if answer is None and not conv.flags.get("asked_again"):
            conv.flags["asked_again"] = True
            reply.messages.append(Text(self.texts["ask_again"]))
            reply.messages.append(Text(self._question(conv, alarm)))
            reply.buttons = self._yes_no(alarm)
            return
        # Still unclear after asking twice: give the lines (a needless card costs little).
        # Unsure (わからない, ちょっとある) is a yes too: the person is not sure they are safe.
        answer = answer or "yes"
        self._note(conv, {"kind": alarm, "level": "answer", "answer": answer,
                          "at": inbound.at.isoformat()})
        resume = conv.flags.pop("resume_state", None)
        conv.flags.pop("asked_again", None)
        conv.flags.pop("check_about", None)
        conv.state = resume
        if answer in ("yes", "unsure"):
            conv.flags[alarm] = True
            conv.flags[f"{alarm}_at"] = inbound.at.isoformat()
            actions.append(f"alert:{alarm}")
            self.alarm_turn(conv, reply, inbound, signals, [alarm], fired)
            return
        conv.flags[f"declined_{alarm}_at"] = inbound.at.isoformat()
        self.said_no(conv, reply, inbound, alarm)

    def said_no(self, conv: ConvState, reply: Reply, inbound: Inbound, alarm: str) -> None:
        """Thanks, what to keep at hand all the same (a line to call, 110), and the interview.

        A "no" may not be the whole truth (首をつる準備できた, then いいえ): the person still
        leaves with one way to reach help."""
        reply.messages.append(Text(self.texts["thanks_no"]))
        reply.messages.extend(self.engine.say_items(
            self.engine.spec.interrupts.get(f"no_{alarm}", ()), conv.answers, inbound))
        self.engine.resume(conv, reply, inbound)


__all__ = ["CHECK", "CHECKS", "CONTINUE", "MAYBE", "SURE", "Safety"]
