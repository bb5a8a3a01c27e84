"""The one postback codec: what a button sends back, written and read in one place.

    b:<state>:<button id>   a flow's button, naming the question it was offered in
    c:<command>             a command (restart, back, contacts, staff, delete, ...)
    <state>:yes | :no       the answer to a confirmation question (a reserved state)
    handoff:cancel          "back to the bot" while waiting for staff
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["button", "command", "answer", "cancel", "unknown"]
CANCEL_DATA = "handoff:cancel"


@dataclass(frozen=True)
class Postback:
    """A decoded postback: its kind, the state it names, and the button, command or answer."""

    kind: Kind
    state: str = ""
    name: str = ""

    @classmethod
    def button(cls, state: str, button_id: str) -> "Postback":
        return cls("button", state, button_id)

    @classmethod
    def command(cls, name: str) -> "Postback":
        return cls("command", "", name)

    @classmethod
    def answer(cls, state: str, yes: bool) -> "Postback":
        return cls("answer", state, "yes" if yes else "no")

    @classmethod
    def cancel(cls) -> "Postback":
        return cls("cancel")

    def encode(self) -> str:
        """The data string a button carries."""
        if self.kind == "button":
            return f"b:{self.state}:{self.name}"
        if self.kind == "command":
            return f"c:{self.name}"
        if self.kind == "answer":
            return f"{self.state}:{self.name}"
        if self.kind == "cancel":
            return CANCEL_DATA
        raise ValueError("an unknown postback cannot be encoded")

    @classmethod
    def decode(cls, data: str) -> "Postback":
        """Read a data string; anything unrecognised is kind 'unknown'."""
        if data.startswith("b:"):
            _, state, button_id = (data.split(":", 2) + ["", ""])[:3]
            return cls.button(state, button_id) if state and button_id else cls("unknown")
        if data.startswith("c:") and len(data) > 2:
            return cls.command(data[2:])
        if data == CANCEL_DATA:
            return cls.cancel()
        state, _, answer = data.rpartition(":")
        if state and answer in ("yes", "no"):
            return cls.answer(state, answer == "yes")
        return cls("unknown")
