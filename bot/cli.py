"""Flask commands for newcomers, editors and staff: `flask --app bot chat`, ..."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .engine import Inbound, Reply

JST = timezone(timedelta(hours=9), "JST")


def parse_at(value: str | None) -> datetime | None:
    """Read an ISO-8601 time; without a zone it is taken as Japan time."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO-8601 time such as "
                                 "2026-11-23T10:00+09:00") from exc
    return at if at.tzinfo else at.replace(tzinfo=JST)


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
    engine = current_app.extensions["bot"].engine
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


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(chat_command)
