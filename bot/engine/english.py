"""A message not in Japanese: a short answer in English, with the numbers that help now.

The interview is Japanese only. Someone writing in English (or romaji, or
another Latin-script language) is told what the bot is, 110 for danger and
119 for a medical emergency, the crisis lines, and the windows for people
who speak other languages (`audience: [foreigner]` in contacts.yaml), with
today's hours and whether they are open now.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..nlu import Signals
from .types import ConvState, Inbound, Reply, Text

if TYPE_CHECKING:
    from .conversation import Engine


def english_reply(engine: "Engine", conv: ConvState, reply: Reply, inbound: Inbound,
                  signals: Signals, fired: list[str], actions: list[str],
                  waiting: bool = False) -> None:
    """Answer in English: the alarm first when there is one, then what the bot is and who helps,
    and a way to a person. Said once: later messages without an alarm get a short answer, not
    the whole list again. `waiting` for staff: that the message reached them, and no button
    (the only one, ボットに戻る, would cancel the request)."""
    t = engine.spec.english
    engine.safety.record(conv, signals, inbound.at)
    alarms = engine.safety.sure(signals)
    actions += [f"alert:{a}" for a in ("danger", "crisis") if a in alarms]
    fired.append("english")
    fired += [f"interrupt:{a}" for a in alarms]
    reply.messages += [Text(t[a]) for a in alarms if t.get(a)]
    answered_before = conv.flags.get("language") not in (None, "ja")
    conv.flags["language"] = signals.language
    if waiting and not alarms and not signals.check:
        reply.messages.append(Text(t["waiting"]))
        return
    if answered_before and not alarms and not signals.check:
        reply.messages.append(Text(t["again"]))
        _offer_staff(engine, reply, t)
        return
    for key in ("intro", "emergency") if not answered_before else ("emergency",):
        if t.get(key):
            reply.messages.append(Text(t[key]))
    if engine.contacts is not None:
        reply.messages += engine.contacts({"alert": "crisis", "limit": 2, "english": True},
                                          {}, inbound)
        foreign = engine.contacts({"audience": "foreigner", "english": True}, {}, inbound)
        if foreign and t.get("windows") and not answered_before:
            reply.messages.append(Text(t["windows"]))
            reply.messages += foreign
    if not waiting:
        _offer_staff(engine, reply, t)


def _offer_staff(engine: "Engine", reply: Reply, t: dict) -> None:
    """How to reach a person: the staff button, explained in English (the desk speaks Japanese)."""
    if t.get("staff"):
        reply.messages.append(Text(t["staff"]))
    engine.handoff.offer_staff(reply, say=False)
