"""Windows as the person reads them: what it does, the number and its cost, open or not."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from ..clock import JST, describe_when, fmt_minute
from ..engine.types import CardPhone, ContactCard, Inbound, Message, Text
from . import Contact, Directory, Status, offered_beyond_audience

SPEC_KEYS = {"match", "alert", "all", "ids", "limit", "fallback", "open_only", "english", "audience"}
DEFAULT_LIMIT = 4
# The full list, by whom each window is for; a window goes in the first group it belongs to.
GROUPS = (("tokyo", "【東京都にお住まいの方】"), ("foreigner", "【外国語で相談したい方】"),
          ("woman", "【女性の方】"), ("child", "【子どもと保護者の方】"), (None, "【どなたでも】"))
GROUP_ORDER = (None, "child", "woman", "foreigner", "tokyo")
FOR_WHOM = {"child": "子どもと、子どものことで悩む大人のための窓口です。",
            "woman": "女性のための窓口です。", "foreigner": "外国語で相談できる窓口です。",
            "tokyo": "東京都の窓口です。"}
MARK = {True: "受付中", False: "時間外", None: "時間は要確認"}
FOR_VICTIMS = "犯罪の被害にあった方のための窓口です"
REPORTERS = {"self": "ご本人", "friend": "友人", "guardian": "保護者", "school": "学校"}


def card(directory: Directory, contact: Contact, at: datetime,
         answers: Mapping[str, Any] | None = None) -> ContactCard:
    """One window as a card, with its status at `at`; says whom it is for when the person
    has not said they belong to that group."""
    status = directory.status(contact, at)
    beyond = answers is not None and offered_beyond_audience(contact, answers)
    for_whom = [FOR_WHOM[a] for a in contact.audience if a in FOR_WHOM] if beyond else []
    lines = [contact.summary, *for_whom]
    lines += [f"☎ {p.describe()}" for p in contact.phones]
    lines.append(status.describe(at))
    hours_note = contact.hours.note if contact.hours.note and not contact.hours.unknown else None
    if hours_note:
        lines.append(hours_note)
    return ContactCard(
        contact.id, f"■ {contact.name}（{contact.operator}）", tuple(lines), contact.url,
        status.open_now, kind="emergency" if contact.emergency else "window",
        name=contact.name, operator=contact.operator, summary=contact.summary,
        badge=badge(status, at), hours=today_hours(status),
        phones=tuple(CardPhone(p.number, p.cost(), p.note or "") for p in contact.phones),
        notes=tuple(for_whom + limits(contact) + ([hours_note] if hours_note else [])))


def badge(status: Status, at: datetime) -> str:
    """'受付中', '時間外・次は明日 8:30から' or '時間は要確認'."""
    if status.open_now is None:
        return MARK[None]
    if status.open_now:
        return MARK[True]
    if status.next_open is None:
        return MARK[False]
    return f"{MARK[False]}・次は{describe_when(status.next_open, at)}"


def today_hours(status: Status) -> str:
    """'今日 8:30〜17:15', '24時間', '今日は休み', or how the hours vary."""
    if status.today == "24時間" or status.open_now is None:
        return status.today
    return "今日は休み" if status.today == "休み" else f"今日 {status.today}"


def limits(contact: Contact) -> list[str]:
    """Who may use a window beyond the groups above: crime victims. (Who may report is said
    in the window's own hours note, where editors put it.)"""
    return [FOR_VICTIMS + "。"] if "crime_victim" in contact.audience else []


TOLLS_EN = {"free": "free call", "mostly_free": "free from most phones",
            "navi": "Navi Dial: call charges apply; may not connect from IP or prepaid phones",
            "charged": "call charges apply"}
DAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def english_card(directory: Directory, contact: Contact, at: datetime) -> ContactCard:
    """One window for someone who reads English: its number, cost and whether it is open now."""
    status = directory.status(contact, at)
    name = f"{contact.name_en} ({contact.name})" if contact.name_en else contact.name
    lines = [contact.summary_en] if contact.summary_en else []
    phones = []
    for p in contact.phones:
        notes = "; ".join([TOLLS_EN[p.toll]] + ([] if p.ip_phone else
                                                 ["may not connect from IP phones"]))
        lines.append(f"☎ {p.number} ({notes})")
        phones.append(CardPhone(p.number, notes))
    said = english_status(contact, status, at)
    lines.append(said)
    return ContactCard(contact.id, f"■ {name}", tuple(lines), contact.url, status.open_now,
                       kind="emergency" if contact.emergency else "window", name=name,
                       summary=contact.summary_en or "", badge=said.split(" (")[0].rstrip("."),
                       hours=said.partition(" (")[2].rstrip(")"), phones=tuple(phones), lang="en")


def english_status(contact: Contact, status, at: datetime) -> str:
    """'Open now (24 hours)', 'Open now (today 9:00-17:00)' or 'Closed now; opens Tue 9:00'."""
    if status.open_now is None:
        return "Hours vary: please check the website."
    if status.open_now:
        if contact.hours.always:
            return "Open now (24 hours)"
        ranges = contact.hours.ranges_on(at.astimezone(JST).date())
        return "Open now (today " + ", ".join(f"{fmt_minute(a)}-{fmt_minute(b)}"
                                              for a, b in ranges) + ")"
    if status.next_open is None:
        return "Closed now."
    nxt = status.next_open.astimezone(JST)
    return f"Closed now; opens {DAYS_EN[nxt.weekday()]} {nxt.day} {nxt:%b} " \
           f"{fmt_minute(nxt.hour * 60 + nxt.minute)}"


def group_of(contact: Contact) -> str | None:
    """Whom a window is for, in the full list: one group, or None for everyone."""
    return next((g for g, _ in GROUPS if g in contact.audience), None)


def row(directory: Directory, contact: Contact, at: datetime) -> str:
    """One entry of the full list: name, open or not, each number with its cost (or the page),
    and who may use it when that is limited."""
    status = directory.status(contact, at)
    reach = [f"　☎ {p.describe()}" for p in contact.phones] or [f"　{contact.url or ''}"]
    limited = [f"　{FOR_VICTIMS}"] if "crime_victim" in contact.audience else []
    if contact.reporters:
        limited.append("　" + who_may_report(contact.reporters))
    return "\n".join([f"・{contact.name}（{MARK[status.open_now]}）", *reach, *limited])


def who_may_report(reporters: tuple[str, ...]) -> str:
    """'ご本人から受け付けます（子どもの場合は保護者・学校からも）'."""
    anyone = "・".join(REPORTERS[r] for r in ("self", "friend") if r in reporters)
    for_child = "・".join(REPORTERS[r] for r in ("guardian", "school") if r in reporters)
    if not anyone:
        return f"{for_child}から受け付けます（子どもの場合）"
    return f"{anyone}から受け付けます" + (f"（子どもの場合は{for_child}からも）" if for_child else "")


def listing(directory: Directory, at: datetime) -> list[Text]:
    """Every enabled window, grouped by whom it is for; in each group, open ones first."""
    heads = dict(GROUPS)
    out = []
    for group in GROUP_ORDER:
        members = [c for c in directory.ordered(directory.enabled, at) if group_of(c) == group]
        if members:
            out.append(Text("\n".join([heads[group]] + [row(directory, c, at) for c in members])))
    return out


def renderer(directory: Directory):
    """The engine's hook for `contacts:` messages in flows."""

    def render(spec: Mapping[str, Any], answers: Mapping[str, Any], inbound: Inbound) -> list[Message]:
        at = inbound.at
        if spec.get("all"):
            return list(listing(directory, at))
        if spec.get("alert") and spec.get("audience"):  # an alert's windows for one audience
            flag = spec["audience"]
            found = [c for c in directory.alerts(spec["alert"], {**answers, flag: True}, at)
                     if flag in c.audience]
        elif spec.get("alert"):
            found = directory.alerts(spec["alert"], answers, at)
        elif spec.get("audience"):  # the windows made for one audience, such as foreigner
            found = directory.ordered([c for c in directory.enabled
                                       if spec["audience"] in c.audience], at)
        elif spec.get("ids"):
            found = directory.ordered([c for c in map(directory.get, spec["ids"]) if c], at, answers)
        else:  # when no best match is open, open windows for the same topic come first
            found = directory.match_open_first(answers, at, int(spec.get("fallback", 2)))
        if spec.get("open_only"):
            found = [c for c in found if c.hours.is_open(at)]
        shown = found[:int(spec.get("limit", DEFAULT_LIMIT))]
        if spec.get("english"):
            return [english_card(directory, c, at) for c in shown]
        return [card(directory, c, at, answers) for c in shown]

    return render
