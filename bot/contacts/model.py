"""`contacts.yaml`: the consultation windows, read and checked with file:line errors."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .. import yamlsrc
from ..engine import conditions
from ..yamlsrc import ContentError
from .hours import CLOSURES, DAY_GROUPS, DAYS, Hours, HoursError, parse_range

TOPICS = ("defamation", "privacy", "impersonation", "stalking", "threat", "sexual_image",
          "account", "illegal_report", "bullying", "other")
WANTS = ("delete", "identify", "damages", "police", "talk", "unsure")
ROLES = ("self", "guardian", "school", "friend")
FLAGS = ("child", "woman", "foreigner", "partner")
AUDIENCES = ("everyone", "child", "woman", "foreigner", "crime_victim", "tokyo")
CHANNELS = ("phone", "web_form", "line", "chat", "in_person", "mail")
SERVICES = ("emergency", "advice", "deletion", "police", "legal_aid", "listening", "report",
            "security")
ALERTS = ("danger", "crisis", "medical")
TOLLS = {"free": "通話無料", "mostly_free": "多くの回線から通話無料",
         "navi": "ナビダイヤル・通話料がかかります", "charged": "通話料がかかります"}
NAVI_REACH = "IP電話やプリペイド式の携帯電話からはつながらないことがあります"
IP_REACH = "IP電話からはつながらないことがあります"
WHEN_KEYS = ("match_when", "first_when", "alert_when", "offer_when")

CONTACT_KEYS = {"id", "name", "operator", "enabled", "disabled_reason", "summary", "phones", "url",
                "name_en", "summary_en",
                "channels", "services", "audience", "reporters", "topics", "wants", "alerts",
                "hours", "source", "verified_on", *WHEN_KEYS}
PHONE_KEYS = {"number", "toll", "ip_phone", "note"}
HOURS_KEYS = set(DAY_GROUPS) | {"always", "closed", "dates", "note", "varies", "overnight"}
PHONE_FORMAT = re.compile(r"^(?:110|119|#\d{4}|0\d{1,4}-\d{1,6}(?:-\d{1,5})?)$")


@dataclass(frozen=True)
class Phone:
    """A number as written, with what the call costs and whether IP phones get through."""

    number: str
    toll: str
    ip_phone: bool = True
    note: str | None = None

    def cost(self) -> str:
        """What the call costs and who may not get through: 'ナビダイヤル・通話料がかかります。IP電話や…'."""
        parts = [TOLLS[self.toll]]
        if self.toll == "navi":  # hotlines.md: many 0570 numbers refuse IP phones and prepaid mobiles
            parts.append(NAVI_REACH)
        elif not self.ip_phone:
            parts.append(IP_REACH)
        return "。".join(parts)

    def describe(self) -> str:
        """'0570-003-110（ナビダイヤル・通話料がかかります。IP電話や…つながらないことがあります）'"""
        return f"{self.number}（{'。'.join([self.cost()] + ([self.note] if self.note else []))}）"


@dataclass(frozen=True)
class Contact:
    """One consultation window."""

    id: str
    name: str
    operator: str
    summary: str
    phones: tuple[Phone, ...]
    url: str | None
    channels: tuple[str, ...]
    services: tuple[str, ...]
    audience: tuple[str, ...]
    reporters: tuple[str, ...]
    topics: tuple[str, ...]
    wants: tuple[str, ...]
    alerts: tuple[str, ...]
    hours: Hours
    source: str | None
    verified_on: date | None
    enabled: bool = True
    disabled_reason: str | None = None
    line: int = 0
    match_when: dict | None = None   # matched (and listed first) whatever topics and wants say
    first_when: dict | None = None   # listed before the others when it holds, after them when not
    alert_when: dict | None = None   # an alert lists it only when this holds
    offer_when: dict | None = None   # offered beyond its audience (women, ...) when this holds
    when_lines: dict[str, int] = field(default_factory=dict)
    name_en: str | None = None      # for people who write in English
    summary_en: str | None = None

    @property
    def emergency(self) -> bool:
        """110 and 119: listed before every other window."""
        return "emergency" in self.services

    @property
    def line_24h(self) -> bool:
        """A phone line answered around the clock (not merely a form that is always open)."""
        return self.hours.always and bool(self.phones)


class ContactsReader(yamlsrc.Checker):
    """Reads contacts.yaml (and hours wherever they are written)."""

    def choice(self, node: Any, line: int, what: str, allowed: tuple[str, ...],
               any_ok: bool = False) -> tuple[str, ...]:
        values = self.strings(node, line, what)
        for v in values:
            if v not in allowed and not (any_ok and v == "any"):
                self.error(line, f"unknown {what} {v!r}; allowed: "
                           f"{', '.join(allowed + (('any',) if any_ok else ()))}")
        return values

    def hours(self, node: Any, line: int) -> Hours:
        if node == "24h":
            return Hours(always=True)
        if not self.keys(node, HOURS_KEYS, "hours"):
            self.error(line, "hours are '24h' or a mapping such as {mon-fri: 08:30-17:15}")
            return Hours(unknown=True)
        if "varies" in node:
            return Hours(unknown=True, note=str(node["varies"]))
        if node.get("always") is True:
            return Hours(always=True, note=node.get("note"))
        weekly: dict[int, tuple] = {}
        for group in DAY_GROUPS:
            if group in node:
                ranges = self._ranges(node[group], node.line_of(group))
                for day in DAY_GROUPS[group]:
                    weekly[DAYS.index(day)] = ranges
        dates = {}
        raw_dates = node.get("dates") or {}
        for day, value in raw_dates.items():
            line_of_day = raw_dates.line_of(day) if hasattr(raw_dates, "line_of") else line
            if not isinstance(day, date):
                self.error(line_of_day, f"hours: {day!r} is not a date such as 2026-12-28")
                continue
            dates[day] = self._ranges(value, line_of_day)
        closed = self.choice(node.get("closed"), node.line_of("closed"), "closure", CLOSURES)
        return Hours(weekly=weekly, closed_holidays="holidays" in closed,
                     closed_year_end="year_end" in closed, dates=dates, note=node.get("note"),
                     overnight=node.get("overnight") is True)

    def when(self, node: Any, line: int, what: str) -> dict | None:
        if node is None:
            return None
        for problem in conditions.problems(node):
            self.error(line, f"{what}: {problem}")
        return dict(node) if isinstance(node, dict) else None

    def _ranges(self, value: Any, line: int) -> tuple:
        if value == "closed":
            return ()
        try:
            return tuple(parse_range(v) for v in (value if isinstance(value, list) else [value]))
        except HoursError as exc:
            self.error(line, f"hours: {exc}")
            return ()

    def phone(self, node: Any, line: int) -> Phone | None:
        if not self.keys(node, PHONE_KEYS, "a phone"):
            return None
        number = str(node.get("number", ""))
        if not PHONE_FORMAT.match(number) or (number.startswith("0")
                                               and len(re.sub(r"\D", "", number)) != 10):
            self.error(line, f"phone number {number!r} is in an unknown format; write it like "
                       "0570-003-110, 03-3597-7830, #9110 or 110")
        toll = node.get("toll")
        if toll not in TOLLS:
            self.error(line, f"phone toll {toll!r} must be one of: {', '.join(TOLLS)}")
            toll = "charged"
        if number.startswith("0120") and toll != "free":
            self.error(line, f"{number} is a 0120 number: its toll is 'free'")
        if number.startswith("0570") and toll != "navi":
            self.error(line, f"{number} is a 0570 ナビダイヤル number: its toll is 'navi'")
        if toll == "navi" and not number.startswith("0570"):
            self.error(line, f"{number} is not a 0570 number: only ナビダイヤル (0570) numbers are 'navi'")
        return Phone(number, toll, bool(node.get("ip_phone", True)), node.get("note"))

    def contact(self, node: Any, line: int) -> Contact | None:
        if not self.keys(node, CONTACT_KEYS, "a contact"):
            return None
        cid = node.get("id")
        if not isinstance(cid, str) or not re.match(r"^[a-z0-9_]+$", cid or ""):
            self.error(line, "a contact needs an 'id' of lower-case letters, digits and _")
            cid = str(cid)
        for key in ("name", "operator", "summary"):
            if not isinstance(node.get(key), str) or not node.get(key).strip():
                self.error(node.line_of(key), f"contact {cid!r} needs a '{key}'")
        raw_phones = node.get("phones") or []
        phones = [self.phone(p, ln) for p, ln in zip(raw_phones, getattr(raw_phones, "item_lines", []))]
        enabled = bool(node.get("enabled", True))
        verified = node.get("verified_on")
        if verified is not None and not isinstance(verified, date):
            self.error(node.line_of("verified_on"), f"verified_on {verified!r} is not a date "
                       "such as 2026-11-01")
            verified = None
        missing = [k for k, v in (("source", node.get("source")), ("verified_on", verified)) if not v]
        if enabled and missing:
            self.error(line, f"contact {cid!r} is enabled but has no {' and '.join(map(repr, missing))}: "
                       "a window nobody checked must not reach people; add them or set "
                       "enabled: false with a disabled_reason")
        if not enabled and not node.get("disabled_reason"):
            self.error(line, f"contact {cid!r} is disabled: say why in 'disabled_reason'")
        if not phones and not node.get("url"):
            self.error(line, f"contact {cid!r} needs phones or a url")
        ln = node.line_of
        whens = {k: self.when(node.get(k), ln(k), k) for k in WHEN_KEYS}
        return Contact(
            cid, node.get("name", ""), node.get("operator", ""), node.get("summary", ""),
            tuple(p for p in phones if p), node.get("url"),
            self.choice(node.get("channels"), ln("channels"), "channel", CHANNELS),
            self.choice(node.get("services"), ln("services"), "service", SERVICES),
            self.choice(node.get("audience") or ["everyone"], ln("audience"), "audience", AUDIENCES),
            self.choice(node.get("reporters"), ln("reporters"), "reporter", ROLES),
            self.choice(node.get("topics"), ln("topics"), "topic", TOPICS, any_ok=True),
            self.choice(node.get("wants"), ln("wants"), "want", WANTS, any_ok=True),
            self.choice(node.get("alerts"), ln("alerts"), "alert", ALERTS),
            self.hours(node.get("hours"), ln("hours")), node.get("source"), verified,
            enabled, node.get("disabled_reason"), line,
            match_when=whens["match_when"], first_when=whens["first_when"],
            alert_when=whens["alert_when"], offer_when=whens["offer_when"],
            when_lines={k: ln(k) for k in WHEN_KEYS if k in node},
            name_en=node.get("name_en"), summary_en=node.get("summary_en"))


def read_contacts(path: Path, name: str = "contacts.yaml") -> tuple[list[Contact], list[ContentError]]:
    """Read contacts.yaml; return every contact (enabled or not) and every problem found."""
    try:
        doc = yamlsrc.load(path, name)
    except ContentError as exc:
        return [], [exc]
    reader = ContactsReader(name)
    if not reader.keys(doc, {"contacts"}, "contacts.yaml") or not isinstance(
            doc.get("contacts"), list):
        reader.error(yamlsrc.line_of(doc) or None, "contacts.yaml needs 'contacts:', a list")
        return [], reader.errors
    items = doc["contacts"]
    contacts = [c for c in (reader.contact(n, ln) for n, ln in zip(items, items.item_lines)) if c]
    seen: dict[str, int] = {}
    for c in contacts:
        if c.id in seen:
            reader.error(c.line, f"contact id {c.id!r} is used twice (first at line {seen[c.id]})")
        seen.setdefault(c.id, c.line)
    return contacts, reader.errors
