"""The engine's replies as LINE messages, always within LINE's limits.

- Text stays text; long text is split at line breaks, never cut.
- Neighbouring window cards become one Flex carousel (a lone card, one bubble):
  110 and 119 drawn large in red, every other window with its call and site
  buttons. More than 12 windows: the 12th bubble offers すべての窓口を見る.
- A reply with buttons gets them twice: as quick replies (phones), and inside
  its last message (LINE for PC and Mac shows no quick replies): a question
  becomes a bubble with its buttons, a carousel gets a last bubble of them.
- At most 5 messages a request: neighbouring texts are joined, then an alarm's
  texts and cards are gathered; what still does not fit goes in the next
  request.
"""
from __future__ import annotations

import logging
from typing import Any, Union

from ...engine.postback import Postback
from ...engine.types import Button, ContactCard, Reply, Text
from . import flex
from .limits import (ALT_TEXT_MAX, BUBBLE_BYTES, BUBBLES_MAX, CAROUSEL_BYTES,
                     MESSAGES_MAX, TEXT_MAX_UTF16, clip, json_size, utf16_len)
from .textsplit import split_text

logger = logging.getLogger(__name__)

Batch = list[dict[str, Any]]
Unit = Union[str, list[ContactCard]]  # a text, or a run of cards
BUTTONS_MAX = 13
MORE = {"ja": ("ほかに{n}件の窓口があります", "すべての窓口を見る"),
        "en": ("{n} more windows", "All windows")}
NEXT = {"ja": "次にできること", "en": "What next"}
ALT_HEAD = {"ja": "相談窓口", "en": "Where to get help"}

__all__ = ["Batch", "quick_reply", "render", "split_text"]


def units_of(reply: Reply) -> list[Unit]:
    """Texts (split to LINE's length) and runs of neighbouring cards, in order."""
    units: list[Unit] = []
    for m in reply.messages:
        if isinstance(m, ContactCard):
            if units and isinstance(units[-1], list):
                units[-1].append(m)
            else:
                units.append([m])
        else:
            units += split_text(m.text if isinstance(m, Text) else str(m))
    return units


def fit(units: list[Unit]) -> list[Unit]:
    """Fewer units while there are more than LINE takes in one request.

    First neighbouring texts are joined; then text, cards, text, cards (an
    alarm's parts) become the two texts, then all the cards, in the same order.
    """
    units = list(units)
    while len(units) > MESSAGES_MAX and (_join_texts(units) or _gather(units)):
        pass
    return units


def _join_texts(units: list[Unit]) -> bool:
    for i in range(len(units) - 1):
        a, b = units[i], units[i + 1]
        if isinstance(a, str) and isinstance(b, str) and \
                utf16_len(a) + 2 + utf16_len(b) <= TEXT_MAX_UTF16:
            units[i:i + 2] = [a + "\n\n" + b]
            return True
    return False


def _gather(units: list[Unit]) -> bool:
    for i in range(len(units) - 3):
        t1, c1, t2, c2 = units[i:i + 4]
        if isinstance(t1, str) and isinstance(t2, str) and isinstance(c1, list) \
                and isinstance(c2, list) and utf16_len(t1) + 2 + utf16_len(t2) <= TEXT_MAX_UTF16:
            units[i:i + 4] = [t1 + "\n\n" + t2, c1 + c2]
            return True
    return False


def quick_reply(buttons: list[Button]) -> dict[str, Any]:
    """Buttons as a LINE quick reply, at most 13, each label at most 20 characters."""
    if len(buttons) > BUTTONS_MAX:
        logger.warning("reply has %d buttons; LINE shows %d", len(buttons), BUTTONS_MAX)
    return {"items": [{"type": "action", "action": flex.postback_action(b)}
                      for b in buttons[:BUTTONS_MAX]]}


def alt_text(cards: list[ContactCard]) -> str:
    """What notifications and old clients show: each window's name, number and status."""
    lines = [ALT_HEAD.get(cards[0].lang, ALT_HEAD["ja"])]
    for c in cards:
        numbers = " ".join(f"☎{p.number}" for p in c.phones)
        lines.append(f"・{c.name or c.title}" + (f" {numbers}" if numbers else "")
                     + (f"（{c.badge}）" if c.badge and c.kind != "emergency" else ""))
    out = ""
    for line in lines:  # whole lines only, as many as fit
        if len(out) + len(line) + 1 > ALT_TEXT_MAX:
            break
        out = f"{out}\n{line}" if out else line
    return out or clip(lines[0], ALT_TEXT_MAX)


def bounded_bubble(card: ContactCard) -> dict[str, Any]:
    """A card's bubble within LINE's 30 KB: long words are shortened, never the numbers."""
    bubble = flex.card_bubble(card)
    if json_size(bubble) <= BUBBLE_BYTES:
        return bubble
    logger.warning("window %s: its card is over LINE's bubble size; shortened", card.contact_id)
    for limit in (400, 100, 0):
        short = ContactCard(**{**card.__dict__, "summary": clip(card.summary, limit) if limit else "",
                               "notes": tuple(clip(n, limit) for n in card.notes if limit),
                               "name": clip(card.name or card.title, max(limit, 60))})
        bubble = flex.card_bubble(short)
        if json_size(bubble) <= BUBBLE_BYTES:
            return bubble
    raise ValueError(f"window {card.contact_id}: no card of it fits LINE's bubble size")


def flex_message(alt: str, bubbles: list[dict[str, Any]]) -> dict[str, Any]:
    """One bubble as itself, several as a carousel."""
    contents = bubbles[0] if len(bubbles) == 1 else {"type": "carousel", "contents": bubbles}
    return {"type": "flex", "altText": clip(alt, ALT_TEXT_MAX), "contents": contents}


def carousels(cards: list[ContactCard]) -> list[dict[str, Any]]:
    """Cards as Flex messages: at most 12 bubbles (the 12th offers the rest) and 50 KB each."""
    lang = cards[0].lang
    bubbles = [bounded_bubble(c) for c in cards]
    if len(bubbles) > BUBBLES_MAX:
        heading, label = MORE.get(lang, MORE["ja"])
        rest = len(bubbles) - (BUBBLES_MAX - 1)
        cards, bubbles = cards[:BUBBLES_MAX - 1], bubbles[:BUBBLES_MAX - 1]
        bubbles.append(flex.more_bubble(heading.format(n=rest), [
            Button(label, Postback.command("contacts").encode(), label)]))
    messages, start = [], 0
    while start < len(bubbles):
        end = start + 1
        while end < len(bubbles) and json_size(
                {"type": "carousel", "contents": bubbles[start:end + 1]}) <= CAROUSEL_BYTES:
            end += 1
        messages.append(flex_message(alt_text(cards[start:end] or cards[-1:]), bubbles[start:end]))
        start = end
    return messages


def with_buttons(messages: Batch, buttons: list[Button], lang: str) -> None:
    """Put the buttons inside the last message too (or after it), and as its quick replies."""
    inside = buttons[:BUTTONS_MAX]
    last = messages[-1]
    if last["type"] == "text":
        messages[-1] = flex_message(last["text"], [flex.question_bubble(last["text"], inside)])
    else:
        contents = last["contents"]
        bubbles = contents["contents"] if contents["type"] == "carousel" else [contents]
        more = flex.more_bubble(NEXT.get(lang, NEXT["ja"]), inside)
        joined = {"type": "carousel", "contents": bubbles + [more]}
        if len(bubbles) < BUBBLES_MAX and json_size(joined) <= CAROUSEL_BYTES:
            last["contents"] = joined
        else:  # a full carousel: the buttons come in a bubble of their own, after it
            messages.append(flex_message(NEXT.get(lang, NEXT["ja"]), [more]))
    messages[-1]["quickReply"] = quick_reply(buttons)


def render(reply: Reply) -> list[Batch]:
    """Turn a reply into request-sized batches of LINE messages (the first is the reply)."""
    messages: Batch = []
    lang = "ja"
    for unit in fit(units_of(reply)):
        if isinstance(unit, str):
            messages.append({"type": "text", "text": unit})
        else:
            lang = unit[0].lang
            messages += carousels(unit)
    if messages and reply.buttons:
        with_buttons(messages, reply.buttons, lang)
    return [messages[i:i + MESSAGES_MAX] for i in range(0, len(messages), MESSAGES_MAX)]
