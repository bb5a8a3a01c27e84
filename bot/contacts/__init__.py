"""The consultation windows: which fit a case, and whether they are open right now."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from ..clock import describe_when
from ..engine.conditions import holds
from ..yamlsrc import ContentError
from .hours import JST, describe_day
from .model import ALERTS, FLAGS, TOPICS, WANTS, Contact, read_contacts

__all__ = ["ALERTS", "Contact", "Directory", "Status", "TOPICS", "WANTS", "load_directory"]

RESTRICTING = {"child", "woman", "foreigner", "tokyo"}  # shown only when the case shows them


@dataclass(frozen=True)
class Status:
    """A window at one moment: open or not (None: unknown), when it next opens, today's hours."""

    open_now: bool | None
    next_open: datetime | None
    today: str

    def describe(self, now: datetime) -> str:
        """'いま受付中です（今日 8:30〜17:15）' or 'いまは受付時間外です。明日 8:30からです'."""
        if self.open_now is None:
            return f"受付時間: {self.today}"
        if self.open_now:
            return "いま受付中です（24時間）" if self.today == "24時間" \
                else f"いま受付中です（今日 {self.today}）"
        when = f"次は{describe_when(self.next_open, now)}です" if self.next_open else \
            "しばらく受付の予定がありません"
        return f"いまは受付時間外です。{when}"


class Directory:
    """All windows from contacts.yaml; only enabled ones are ever offered."""

    def __init__(self, contacts: list[Contact]):
        self.all = contacts
        self.enabled = [c for c in contacts if c.enabled]
        self._order = {c.id: i for i, c in enumerate(self.enabled)}

    def get(self, contact_id: str) -> Contact | None:
        """An enabled window by id."""
        return next((c for c in self.enabled if c.id == contact_id), None)

    def status(self, contact: Contact, at: datetime) -> Status:
        """Open now, next opening and today's hours, at `at` in Japan time."""
        hours = contact.hours
        return Status(hours.is_open(at), hours.next_open(at), describe_day(hours, at.astimezone(JST).date()))

    def match(self, answers: Mapping[str, Any], at: datetime) -> list[Contact]:
        """The windows that fit the case: open ones first, then the ones made for this case."""
        found = [c for c in self.enabled if serves(c, answers)]
        return self.ordered(found, at, answers, specific=True)

    def match_open_first(self, answers: Mapping[str, Any], at: datetime,
                         fallback: int = 2) -> list[Contact]:
        """The matches; if none is open now, first up to `fallback` open windows for the topic."""
        found = self.match(answers, at)
        if fallback <= 0 or any(c.hours.is_open(at) for c in found):
            return found
        topic_only = {k: v for k, v in answers.items() if k != "want"}
        extra = [c for c in self.match(topic_only, at) if c.hours.is_open(at) and c not in found]
        return extra[:fallback] + found

    def alerts(self, kind: str, answers: Mapping[str, Any], at: datetime,
               open_first: bool = True) -> list[Contact]:
        """The windows for danger, crisis or a medical emergency that fit this person.

        Emergency numbers come first, then the lines open now (24-hour lines first).
        A danger alert lists only what can be reached now: never a closed window.
        """
        found = [c for c in self.enabled if kind in c.alerts and fits_audience(c, answers)
                 and holds(c.alert_when, answers)]
        if kind == "danger":
            found = [c for c in found if c.hours.is_open(at)]
        if not open_first:
            return found
        return sorted(found, key=lambda c: (not c.emergency, OPEN_RANK[c.hours.is_open(at)],
                                            not c.line_24h, lead(c, answers), self._order[c.id]))

    def ordered(self, contacts: list[Contact], at: datetime, answers: Mapping[str, Any] | None = None,
                specific: bool = False) -> list[Contact]:
        """Emergency numbers first; then open now, unknown hours, closed; within each, the
        windows made to lead this case (`first_when`), then those naming the topic and want
        (when `specific`) before general ones, then file order."""
        answers = answers or {}

        def general(c: Contact) -> int:
            return ("any" in c.topics) + ("any" in c.wants) if specific else 0

        return sorted(contacts, key=lambda c: (not c.emergency, OPEN_RANK[c.hours.is_open(at)],
                                               lead(c, answers), general(c), self._order[c.id]))


OPEN_RANK = {True: 0, None: 1, False: 2}


def lead(contact: Contact, answers: Mapping[str, Any]) -> int:
    """0 for a window that leads this case, 2 for one made for another case, else 1."""
    if contact.match_when is not None and holds(contact.match_when, answers):
        return 0
    if contact.first_when is not None:
        return 0 if holds(contact.first_when, answers) else 2
    return 2 if offered_beyond_audience(contact, answers) else 1


def shown_flags(answers: Mapping[str, Any]) -> set[str]:
    """The groups the case shows the person belongs to (child, woman, ...)."""
    return {flag for flag in FLAGS if answers.get(flag) is True}


def offered_beyond_audience(contact: Contact, answers: Mapping[str, Any]) -> bool:
    """A window for a group the person has not said they belong to, offered because of `offer_when`."""
    return not (set(contact.audience) & RESTRICTING) <= shown_flags(answers)


def fits_audience(contact: Contact, answers: Mapping[str, Any]) -> bool:
    """A window for children, women, foreigners or one city fits only when the case shows it,
    or when its `offer_when` holds (it is then offered, saying whom it is for)."""
    if (set(contact.audience) & RESTRICTING) <= shown_flags(answers):
        return True
    return contact.offer_when is not None and holds(contact.offer_when, answers)


def serves(contact: Contact, answers: Mapping[str, Any]) -> bool:
    """Does this window handle this topic and want (either unknown: any), for this person?

    `match_when` matches it whatever its topics and wants say (threats always get the
    police). A window with no topics (119) is shown only in alerts and the full list.
    """
    topic, want, role = answers.get("topic"), answers.get("want"), answers.get("audience")
    if contact.reporters and role and role not in contact.reporters:
        return False
    if contact.match_when is not None and holds(contact.match_when, answers):
        return fits_audience(contact, answers)
    if not contact.topics or not contact.wants:
        return False
    if topic is not None and "any" not in contact.topics and topic not in contact.topics:
        return False
    if want is not None and "any" not in contact.wants and want not in contact.wants:
        return False
    return fits_audience(contact, answers)


def load_directory(path: Path) -> tuple[Directory, list[ContentError]]:
    """Read contacts.yaml into a directory; return it with every problem found."""
    contacts, errors = read_contacts(path)
    return Directory(contacts), errors
