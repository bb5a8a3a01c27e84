"""Flex Message bubbles: a window's card, 110 and 119, a question with its buttons.

Each builder returns plain JSON in LINE's form (what the SDK's `FlexBubble`
takes); `render.py` puts bubbles into messages and keeps them within LINE's
limits. Labels are clipped here, so no action breaks the 20-character limit.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from ...engine.types import Button, CardPhone, ContactCard
from .limits import DATA_MAX, LABEL_MAX, URI_MAX, clip

logger = logging.getLogger(__name__)

Json = dict[str, Any]
GREEN, RED, GREY, DARK, AMBER = "#06C755", "#D32F2F", "#8A8A8A", "#333333", "#A15C00"
WORDS = {
    "ja": {"call": "電話する", "site": "サイトを見る", "copy": "番号をコピー",
           "emergency": "{number}番に電話する",
           "hash": "iPhoneは「番号をコピー」を押し、電話アプリに貼り付けてかけてください。"},
    "en": {"call": "Call", "site": "Website", "copy": "Copy number", "emergency": "Call {number}",
           "hash": "On an iPhone, copy the number and paste it into the Phone app."},
}


def tel_uri(number: str) -> str:
    """'tel:0570003110'; '#9110' becomes 'tel:%239110' (a bare # would start a URI fragment)."""
    return "tel:" + re.sub(r"[^0-9#*+]", "", number).replace("#", "%23").replace("*", "%2A")


def text(value: str, **style: Any) -> Json:
    """A wrapped text component."""
    return {"type": "text", "text": value, "wrap": True, **style}


def uri_button(label: str, uri: str, **style: Any) -> Json | None:
    """A button opening a URI, or None when the URI is too long for LINE."""
    if len(uri) > URI_MAX:
        logger.warning("a link of %d characters was left out; LINE allows %d", len(uri), URI_MAX)
        return None
    return {"type": "button", "height": "sm",
            "action": {"type": "uri", "label": clip(label, LABEL_MAX), "uri": uri}, **style}


def postback_button(button: Button, **style: Any) -> Json:
    """A button inside a message that sends the same postback as its quick reply."""
    return {"type": "button", "height": "sm", "style": "secondary", **style,
            "action": postback_action(button)}


def postback_action(button: Button) -> Json:
    """A postback action within LINE's limits (label 20, data and display text 300)."""
    if len(button.label) > LABEL_MAX or len(button.data) > DATA_MAX:
        logger.warning("button label or data over LINE's limit was shortened")
    return {"type": "postback", "label": clip(button.label, LABEL_MAX),
            "data": button.data[:DATA_MAX], "displayText": clip(button.text, DATA_MAX)}


def box(contents: list[Json | None], layout: str = "vertical", **style: Any) -> Json:
    """A box of the components given (None ones left out)."""
    return {"type": "box", "layout": layout, "contents": [c for c in contents if c], **style}


def badge(card: ContactCard) -> Json:
    """受付中 on green, 時間外 on grey, 時間は要確認 on amber."""
    color = {True: GREEN, False: GREY, None: AMBER}[card.open_now]
    label = box([text(card.badge, size="xs", color="#FFFFFF", weight="bold")],
                backgroundColor=color, cornerRadius="md", paddingAll="4px",
                paddingStart="8px", paddingEnd="8px", flex=0)
    return box([label, text(card.hours, size="xs", color=GREY, gravity="center")
                if card.hours else None], "horizontal", spacing="sm")


def phone_lines(phone: CardPhone) -> list[Json]:
    """The number, which line it is, and what the call costs."""
    head = f"☎ {phone.number}" + (f"（{phone.label}）" if phone.label else "")
    return [text(head, size="sm", weight="bold", color=DARK),
            text(phone.note, size="xxs", color=GREY)] if phone.note else \
        [text(head, size="sm", weight="bold", color=DARK)]


def call_buttons(card: ContactCard) -> list[Json | None]:
    """One call button per number; a #-number also gets a copy button (iPhones will not dial #)."""
    words = WORDS.get(card.lang, WORDS["ja"])
    several = len(card.phones) > 1
    out: list[Json | None] = []
    for phone in card.phones:
        label = f"{words['call']} {phone.number}" if several else words["call"]
        if several and len(label) > LABEL_MAX:
            label = words["call"]
        style = "primary" if card.open_now is not False else "secondary"
        out.append(uri_button(label, tel_uri(phone.number), style=style,
                              **({"color": GREEN} if style == "primary" else {})))
        if "#" in phone.number:
            out.append({"type": "button", "height": "sm", "style": "link", "action": {
                "type": "clipboard", "label": words["copy"], "clipboardText": phone.number}})
    return out


def window_bubble(card: ContactCard) -> Json:
    """A window: badge and today's hours, name, who runs it, what it does, numbers, whom for."""
    words = WORDS.get(card.lang, WORDS["ja"])
    body: list[Json | None] = [badge(card) if card.badge else None,
                               text(card.name or card.title, weight="bold", size="md"),
                               text(card.operator, size="xs", color=GREY) if card.operator else None,
                               text(card.summary, size="sm", color=DARK) if card.summary else None]
    for phone in card.phones:
        body += phone_lines(phone)
    body += [text(note, size="xs", color=AMBER) for note in card.notes]
    if any("#" in p.number for p in card.phones):
        body.append(text(words["hash"], size="xxs", color=GREY))
    footer = call_buttons(card)
    if card.url:
        footer.append(uri_button(words["site"], card.url, style="link"))
    bubble: Json = {"type": "bubble", "body": box(body, spacing="sm")}
    if any(footer):
        bubble["footer"] = box(footer, spacing="xs")
    return bubble


def emergency_bubble(card: ContactCard) -> Json:
    """110 or 119: the number large, in red, and one big call button."""
    words = WORDS.get(card.lang, WORDS["ja"])
    number = card.phones[0].number if card.phones else ""
    body = [text(card.name or card.title, weight="bold", size="3xl", color=RED),
            text(card.operator, size="sm", color=RED, weight="bold") if card.operator else None,
            text(card.summary, size="sm", color=DARK) if card.summary else None]
    bubble: Json = {"type": "bubble", "styles": {"body": {"backgroundColor": "#FDECEA"},
                                                  "footer": {"backgroundColor": "#FDECEA"}},
                    "body": box(body, spacing="sm")}
    if number:
        call = uri_button(words["emergency"].format(number=number), tel_uri(number),
                          style="primary", color=RED)
        if call:
            call["height"] = "md"
            bubble["footer"] = box([call])
    return bubble


def card_bubble(card: ContactCard) -> Json:
    """The bubble for one card, by its kind."""
    return emergency_bubble(card) if card.kind == "emergency" else window_bubble(card)


def question_bubble(question: str, buttons: list[Button]) -> Json:
    """A question with its buttons inside the message, for LINE on PC (no quick replies there)."""
    return {"type": "bubble", "body": box(
        [text(question, size="md", color=DARK), {"type": "separator", "margin": "md"},
         box([postback_button(b) for b in buttons], spacing="sm", margin="md")])}


def more_bubble(heading: str, buttons: list[Button]) -> Json:
    """The last bubble of a carousel: what else the person can do, as buttons."""
    return {"type": "bubble", "body": box(
        [text(heading, size="sm", weight="bold", color=DARK),
         box([postback_button(b) for b in buttons], spacing="sm", margin="md")],
        justifyContent="center")}
