"""Taps on buttons of earlier messages: read what they meant, never act on them blindly.

Buttons inside messages (cards, questions on LINE for PC) stay tappable long
after their question was answered. A tap on an earlier yes/no:

- 「はい」 to an earlier safety question is taken as said now: the person gets
  the crisis lines or 110 at once (recall matters more than precision);
- 「いいえ」 to it is thanked, and the current question is asked again;
- yes to an earlier handoff or deletion question asks again, so that nothing
  is handed over or deleted without a fresh answer; no is taken as no.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..nlu import Signals
from .handoff import DELETE_CONFIRM, HANDOFF_CONFIRM
from .postback import Postback
from .safety import CHECK
from .types import ConvState, Inbound, Reply, Text

if TYPE_CHECKING:
    from .conversation import Engine

CONFIRMS = {HANDOFF_CONFIRM: ("handoff", "declined"), DELETE_CONFIRM: ("deletion", "kept")}


def stale_answer(engine: "Engine", conv: ConvState, reply: Reply, inbound: Inbound,
                 signals: Signals, fired: list[str], actions: list[str]) -> bool:
    """Handle a tap on an earlier question's yes or no; False when it is not one."""
    tapped = Postback.decode(inbound.data)
    if inbound.kind != "button" or tapped.kind != "answer" or tapped.state == conv.state:
        return False
    yes = tapped.name == "yes"
    alarm = next((a for a, s in CHECK.items() if s == tapped.state), None)
    if alarm and yes:
        fired.append(f"stale:{alarm}:yes")
        conv.flags[alarm] = True
        conv.flags[f"{alarm}_at"] = inbound.at.isoformat()
        actions.append(f"alert:{alarm}")
        engine.safety.alarm_turn(conv, reply, inbound, signals, [alarm], fired)
        return True
    if alarm:
        fired.append(f"stale:{alarm}:no")
        engine.safety.said_no(conv, reply, inbound, alarm)
        return True
    if tapped.state not in CONFIRMS:
        return False
    section, declined = CONFIRMS[tapped.state]
    fired.append(f"stale:{section}:{tapped.name}")
    if yes:
        engine.handoff.ask_confirmation(conv, reply, tapped.state, section, inbound.at)
    else:
        reply.messages.append(Text(getattr(engine.spec, section)[declined]))
        engine.resume(conv, reply, inbound)
    return True
