"""The engine's own inbound and outbound types; no platform SDK appears here."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, Union

InboundKind = Literal["text", "button", "follow", "other", "group", "unfollow"]


@dataclass(frozen=True)
class ConvKey:
    """Who a conversation is with: a channel name and that channel's user id."""

    channel: str
    user: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.user}"

    @classmethod
    def parse(cls, text: str) -> "ConvKey":
        """Turn the string form back into a key."""
        channel, _, user = text.partition(":")
        return cls(channel, user)


@dataclass(frozen=True)
class Inbound:
    """One thing the person did: typed text, tapped a button, added us, or sent something else.

    `group` is anything from a group or room chat, where no interview is run;
    `unfollow` means the person blocked us, and their data is deleted.

    `at` is when it happened (the platform's event time), which is "now" for the engine.
    `receipt` is the platform's token to show the message as read, if it has one.
    """

    kind: InboundKind
    at: datetime
    text: str = ""
    data: str = ""
    receipt: str = ""


@dataclass(frozen=True)
class Button:
    """A quick-reply button: what it shows, what it sends back, and what the chat displays."""

    label: str
    data: str
    text: str


@dataclass(frozen=True)
class Text:
    """A plain text message."""

    text: str


@dataclass(frozen=True)
class CardPhone:
    """A number on a card: as written, what the call costs and who gets through, and which line."""

    number: str
    note: str = ""   # 通話無料 / ナビダイヤル・通話料がかかります / IP電話からはつながらないことがあります
    label: str = ""  # which of several numbers (岩手・宮城・福島からはこちら)


CardKind = Literal["window", "emergency"]


@dataclass(frozen=True)
class ContactCard:
    """One consultation window, ready to show.

    `title` and `lines` are the card as plain text (the terminal, transcripts,
    stories); the other fields are the same card in parts, for channels that
    draw cards with call buttons. `kind` "emergency" is 110 or 119: drawn so it
    cannot be missed. `badge` says whether it is open now ("受付中", "時間外・次は
    月曜 8:30"); `hours` is today's; `notes` say whom it is for where that is
    restricted; `lang` is the language of the card's words.
    """

    contact_id: str
    title: str
    lines: tuple[str, ...]
    url: str | None = None
    open_now: bool | None = None
    kind: CardKind = "window"
    name: str = ""
    operator: str = ""
    summary: str = ""
    badge: str = ""
    hours: str = ""
    phones: tuple[CardPhone, ...] = ()
    notes: tuple[str, ...] = ()
    lang: str = "ja"

    def as_text(self) -> str:
        """The card as plain text, as every channel without rich cards shows it."""
        return "\n".join((self.title, *self.lines) + ((self.url,) if self.url else ()))


Message = Union[Text, ContactCard]


@dataclass
class Reply:
    """What the engine wants said: messages in order, and buttons under the last one."""

    messages: list[Message] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)

    def extend(self, other: "Reply") -> None:
        """Append another reply's messages; its buttons replace ours."""
        self.messages.extend(other.messages)
        self.buttons = list(other.buttons)

    def texts(self) -> list[str]:
        """Return the text of every message, for tests and the terminal."""
        return [m.text if isinstance(m, Text) else m.as_text() for m in self.messages]


@dataclass
class ConvState:
    """What is stored for one conversation between events."""

    flow: str
    state: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    last_active: datetime | None = None
    flags: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> ConvState:
        """A copy to change, sharing nothing mutable with this one.

        As `copy.deepcopy`, at a fifth of its cost on a stored conversation: every
        field holds JSON (dicts, lists, strings, numbers) or a time, copied or shared
        directly; anything else goes to `deepcopy`.
        """
        return ConvState(**{f.name: _copied(getattr(self, f.name)) for f in fields(self)})


_SHARED = (str, int, float, bool, type(None), datetime)  # immutable: the copy may share them


def _copied(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _copied(v) for k, v in value.items()}
    if kind is list:
        return [_copied(v) for v in value]
    if kind in _SHARED:
        return value
    return copy.deepcopy(value)


@dataclass
class Outcome:
    """The engine's answer to one inbound: the state to store and the reply to send."""

    conv: ConvState
    reply: Reply
    fired: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # for the dispatcher: handoff:request, ...
