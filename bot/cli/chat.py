"""`flask --app bot chat`: the bot in a terminal, for newcomers and editors.

It talks through the local channel: the same inbox, dispatcher, engine and desk
as LINE, so asking for staff really queues a request in the console, and a
staff reply is printed here before the next prompt.
"""
from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta
from typing import Callable

import click
from flask import current_app
from flask.cli import with_appcontext

from ..channels.local import Delivered, LocalConversation
from ..clock import JST
from . import live_content, parse_at


def show(delivered: list[Delivered], echo: Callable[[str], None] = click.echo) -> list[dict[str, str]]:
    """Print deliveries as the terminal chat shows them; return the buttons offered last."""
    buttons: list[dict[str, str]] = []
    for d in delivered:
        for text in d.texts():
            echo("")
            for line in text.splitlines():
                echo(f"  {'staff' if d.pushed else 'bot'}│ {line}")
        buttons = d.buttons() or buttons
    if buttons:
        echo("")
        echo("   " + "  ".join(f"[{i}] {b['label']}" for i, b in enumerate(buttons, 1)))
    return buttons


@click.command("chat")
@click.option("--at", "at", metavar="ISO-8601",
              help="Start the clock here, e.g. 2026-11-23T10:00+09:00 (default: now).")
@with_appcontext
def chat_command(at: str | None) -> None:
    """Talk to the bot in the terminal, with the same engine, flows and desk as on LINE."""
    live_content()
    start = parse_at(at) or datetime.now(JST)
    began = time.monotonic()

    def now() -> datetime:
        return start + timedelta(seconds=time.monotonic() - began)

    person = LocalConversation(current_app.extensions["bot"], "chat-" + secrets.token_hex(6))
    click.echo("Type a button's number or your own words; Ctrl-D or 'quit' ends.")
    delivered = person.act("follow", now())
    buttons = show(delivered)
    last = delivered[-1].id if delivered else 0
    while True:
        try:
            said = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo("")
            return
        waiting = person.since(last)  # staff replies that arrived meanwhile
        if waiting:
            buttons = show(waiting) or buttons
            last = waiting[-1].id
        if said in ("quit", "exit"):
            return
        if not said:
            continue
        if said.isdigit() and 1 <= int(said) <= len(buttons):
            button = buttons[int(said) - 1]
            delivered = person.act("button", now(), text=button["text"], data=button["data"])
        else:
            delivered = person.act("text", now(), text=said)
        buttons = show(delivered) or buttons
        last = delivered[-1].id if delivered else last
