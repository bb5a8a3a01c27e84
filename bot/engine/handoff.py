"""The person's side of a handoff to staff, and data deletion, inside the engine.

The engine decides what to say; it changes nothing outside the conversation.
What must happen elsewhere (queue a request, cancel it, alert staff, delete
everything) is returned as an action for the dispatcher to carry out.

`StaffTalk` is a collaborator the engine owns (`engine.handoff`), not a mixin:
it reaches the engine only through the few things it names.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..clock import describe_when
from .normalize import folded_words, normalize
from .postback import Postback
from .types import Button, ConvState, Inbound, Reply, Text

if TYPE_CHECKING:
    from .conversation import Engine

HANDOFF_CONFIRM = "@handoff_confirm"
"""Reserved state: the person was asked whether to hand the conversation to staff."""
DELETE_CONFIRM = "@delete_confirm"
"""Reserved state: the person was asked whether to delete everything stored for them."""
RESERVED = (HANDOFF_CONFIRM, DELETE_CONFIRM)

REQUEST, CANCEL, DELETE = "handoff:request", "handoff:cancel", "delete"
ALERT = "alert:"  # + danger or crisis: raise the request's priority and tell staff
MISSES_BEFORE_OFFER = 2


@dataclass(frozen=True)
class DeskView:
    """What the dispatcher knows of this person's request for staff, now."""

    status: str | None = None  # None, "waiting" or "claimed"
    ahead: int = 0             # waiting requests staff will take first


class StaffTalk:
    """The engine's collaborator for staff requests, waiting, silence and deletion."""

    def __init__(self, engine: "Engine"):
        self.engine = engine

    def _texts(self, section: str) -> dict[str, Any]:
        return dict(getattr(self.engine.spec, section))

    def _said(self, inbound: Inbound, section: str, key: str) -> bool:
        words = self._texts(section).get(key, ())
        said = normalize(inbound.text)
        return bool(said) and said in folded_words(tuple(words))

    def _yes_no(self, section: str, state: str) -> list[Button]:
        t = self._texts(section)
        return [Button(t["yes"], Postback.answer(state, True).encode(), t["yes"]),
                Button(t["no"], Postback.answer(state, False).encode(), t["no"])]

    def _answered(self, inbound: Inbound, section: str, state: str) -> str | None:
        t = self._texts(section)
        said = normalize(inbound.text)
        tapped = Postback.decode(inbound.data)
        if tapped.kind == "answer" and tapped.state == state:
            return tapped.name
        if said and said == normalize(t["yes"]):
            return "yes"
        if said and said == normalize(t["no"]):
            return "no"
        return None

    # -- asking ------------------------------------------------------------------

    def ask_confirmation(self, conv: ConvState, reply: Reply, state: str,
                         section: str, at: datetime | None = None) -> None:
        """Ask before handing over or deleting; remember where to come back to. Handing over
        when staff are away says so before the person chooses (not only after)."""
        if conv.state not in RESERVED:
            conv.flags["resume_state"] = conv.state
        conv.state = state
        text = self._texts(section)["confirm"]
        staff = self.engine.staff
        if section == "handoff" and at is not None and staff is not None and \
                not staff.open_at(at):
            when = self._back_at(at)
            text += "\n" + self._texts(section)["confirm_closed"].replace("{next}", when)
        reply.messages.append(Text(text))
        reply.buttons = self._yes_no(section, state)

    def _back_at(self, at: datetime) -> str:
        """When staff are back, in words (今日 10:00, 1月4日(月) 10:00)."""
        nxt = self.engine.staff.next_open(at) if self.engine.staff else None
        return describe_when(nxt, at).removesuffix("から") if nxt else "受付の再開時"

    def confirming(self, conv: ConvState, reply: Reply, inbound: Inbound,
                   actions: list[str], desk: DeskView) -> None:
        """The answer to a confirmation question."""
        state = conv.state or HANDOFF_CONFIRM
        section = "handoff" if state == HANDOFF_CONFIRM else "deletion"
        answer = self._answered(inbound, section, state)
        if answer is None:  # neither yes nor no: ask again
            reply.messages.append(Text(self._texts(section)["confirm"]))
            reply.buttons = self._yes_no(section, state)
            return
        if section == "deletion" and answer == "yes":
            actions.append(DELETE)
            reply.messages.append(Text(self._texts("deletion")["done"]))
            conv.state, conv.answers, conv.history, conv.flags = None, {}, [], {}
            return
        if section == "handoff" and answer == "yes":
            actions.append(REQUEST)
            self.back_to(conv)
            self.tell_waiting(reply, inbound, DeskView("waiting", desk.ahead), conv)
            return
        reply.messages.append(Text(self._texts(section)["declined" if section == "handoff"
                                                         else "kept"]))
        self.back_to(conv)
        self.engine._reshow(conv, reply)

    def back_to(self, conv: ConvState) -> None:
        """Leave a confirmation question for the state it interrupted."""
        resume = conv.flags.pop("resume_state", None)
        spec = self.engine.flows[conv.flow].spec
        conv.state = resume if resume in spec.states else spec.start

    # -- waiting and claimed -----------------------------------------------------

    def tell_waiting(self, reply: Reply, inbound: Inbound, desk: DeskView,
                     conv: ConvState, again: bool = False, check: str | None = None) -> None:
        """Say that staff will answer, roughly when, and how to go back to the bot. `check`:
        the alarm the words may show (つらい, こわい): its lines, not a short reminder."""
        t = self._texts("handoff")
        now = inbound.at
        staff, contacts = self.engine.staff, self.engine.contacts
        if staff is not None and not staff.open_at(now):
            when = self._back_at(now)
            # Someone in crisis or danger is never told to wait: the lines open now come first.
            alarm = next((a for a in ("danger", "crisis") if conv.flags.get(a)), None) or check
            key = "after_hours_alarm" if alarm and t.get("after_hours_alarm") else "after_hours"
            if again and not alarm:  # said once: now that the message reached staff, and when
                reply.messages.append(Text(t["after_hours_again"].replace("{next}", when)))
                reply.buttons = [Button(t["cancel_label"], Postback.cancel().encode(),
                                        t["cancel_label"])]
                return
            reply.messages.append(Text(t[key].replace("{next}", when)))
            # Nothing told yet of what happened: the lines that listen to anyone, open now
            # (matching on nothing would list police desks at random).
            listen = alarm or ("crisis" if conv.answers.get("topic") is None else None)
            spec = {"alert": listen, "open_only": True, "limit": 3} if listen else \
                {"match": True, "open_only": True, "limit": 3}
            if contacts is not None:
                reply.messages.extend(contacts(spec, conv.answers, inbound))
        else:
            minutes = (desk.ahead + 1) * (staff.minutes_per_person if staff else 10)
            key = "still_waiting" if again else "waiting"
            # {ahead}: the people before this one; {position}: this one's place (1: next),
            # which reads well when nobody is ahead (not 「前に0人」)
            reply.messages.append(Text(t[key].replace("{ahead}", str(desk.ahead))
                                       .replace("{position}", str(desk.ahead + 1))
                                       .replace("{minutes}", str(minutes))))
        reply.buttons = [Button(t["cancel_label"], Postback.cancel().encode(), t["cancel_label"])]

    def while_waiting(self, conv: ConvState, reply: Reply, inbound: Inbound,
                      desk: DeskView, alarmed: bool, actions: list[str],
                      check: str | None = None) -> None:
        """A message while the request waits: cancel, or a reminder that staff will come."""
        cancel = Postback.decode(inbound.data).kind == "cancel"
        if cancel or self._said(inbound, "handoff", "cancel_words"):
            actions.append(CANCEL)
            reply.messages.append(Text(self._texts("handoff")["cancelled"]))
            self.engine._reshow(conv, reply)
        elif not alarmed:
            self.tell_waiting(reply, inbound, desk, conv, again=True, check=check)
        else:
            label = self._texts("handoff")["cancel_label"]
            reply.buttons = [Button(label, Postback.cancel().encode(), label)]

    def offer_staff(self, reply: Reply, say: bool = True) -> None:
        """Offer a human: after an alert, or when the bot failed to understand twice."""
        t = self._texts("handoff")
        if not t:
            return
        if say:
            reply.messages.append(Text(t["offer"]))
        button = Button(t["label"], Postback.command("staff").encode(), t["label"])
        if all(b.data != button.data and b.label != button.label for b in reply.buttons):
            reply.buttons = (reply.buttons + [button])[-13:]

    def resumed(self, conv: ConvState | None, at: datetime, key: str) -> tuple[ConvState, Reply]:
        """After staff returned or closed the conversation: tell the person, start afresh."""
        conv = self.engine.new_conversation() if conv is None else conv
        reply = Reply([Text(self._texts("handoff")[key])])
        inbound = Inbound("follow", at)
        self.engine._restart(conv, reply, inbound, prefix=None)
        conv.flags = {k: v for k, v in conv.flags.items() if k in ("danger", "crisis")}
        conv.last_active = at
        return conv, reply
