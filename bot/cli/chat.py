"""`flask --app bot chat`: the bot in a terminal, for newcomers and editors."""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Callable

import click
from flask.cli import with_appcontext

from ..clock import JST
from ..engine import Inbound, Reply
from . import live_content, parse_at


def show(reply: Reply, echo: Callable[[str], None] = click.echo) -> None:
    """Print a reply as the terminal chat shows it: messages, then numbered buttons."""
    for text in reply.texts():
        echo("")
        for line in text.splitlines():
            echo(f"  bot│ {line}")
    if reply.buttons:
        echo("")
        echo("   " + "  ".join(f"[{i}] {b.label}" for i, b in enumerate(reply.buttons, 1)))


@click.command("chat")
@click.option("--at", "at", metavar="ISO-8601",
              help="Start the clock here, e.g. 2026-11-23T10:00+09:00 (default: now).")
@with_appcontext
def chat_command(at: str | None) -> None:
    """Talk to the bot in the terminal, with the same engine and flows as on LINE."""
    engine = live_content().engine
    start = parse_at(at) or datetime.now(JST)
    began = time.monotonic()

    def now() -> datetime:
        return start + timedelta(seconds=time.monotonic() - began)

    click.echo("Type a button's number or your own words; Ctrl-D or 'quit' ends.")
    outcome = engine.handle(None, Inbound("follow", now()))
    show(outcome.reply)
    while True:
        try:
            said = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo("")
            return
        if said in ("quit", "exit"):
            return
        if not said:
            continue
        buttons = outcome.reply.buttons
        if said.isdigit() and 1 <= int(said) <= len(buttons):
            button = buttons[int(said) - 1]
            inbound = Inbound("button", now(), text=button.text, data=button.data)
        else:
            inbound = Inbound("text", now(), text=said)
        previous = outcome.reply
        outcome = engine.handle(outcome.conv, inbound)
        if not outcome.reply.buttons and not outcome.reply.messages:
            outcome.reply.buttons = previous.buttons
        show(outcome.reply)
