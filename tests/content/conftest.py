"""The real content (flows, contacts.yaml, keywords.yaml) loaded as the app would."""
from __future__ import annotations

from datetime import datetime

import pytest

from bot import config
from bot.content import Content, load_content
from bot.contacts.hours import JST
from bot.engine import Inbound


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content(config.DEFAULTS)


@pytest.fixture(scope="session")
def engine(content):
    return content.engine


def at(text: str) -> datetime:
    """A moment in Japan time."""
    return datetime.fromisoformat(text).replace(tzinfo=JST)


def tap(engine, outcome, label: str, when: datetime):
    """Tap the button with this label in the last reply."""
    labels = [b.label for b in outcome.reply.buttons]
    assert label in labels, f"{label!r} not offered; buttons: {labels}"
    button = next(b for b in outcome.reply.buttons if b.label == label)
    return engine.handle(outcome.conv, Inbound("button", when, text=button.text, data=button.data))


def say(engine, outcome, text: str, when: datetime):
    return engine.handle(outcome.conv if outcome else None, Inbound("text", when, text=text))
