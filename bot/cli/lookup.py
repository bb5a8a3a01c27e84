"""`classify` and `contacts`: what the rules read, and which windows fit, for editors and staff."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from flask.cli import with_appcontext

from ..clock import JST
from ..contacts.model import FLAGS, ROLES, TOPICS, WANTS
from . import live_content, parse_at


@click.command("classify")
@click.argument("text", required=False)
@click.option("--file", "path", type=click.File("r", encoding="utf-8"), metavar="PATH",
              help="Read one message a line from PATH ('-' for standard input); "
                   "print one JSON object a line.")
@with_appcontext
def classify_command(text: str | None, path: Any) -> None:
    """Show what the bot reads in TEXT (rules, then the model), as one JSON object.

    danger and crisis are true when the bot would interrupt at once; check names
    the alarm it would ask about; model gives each field's label and score.
    """
    if (text is None) == (path is None):
        raise click.UsageError("give TEXT or --file PATH (not both)")
    classify = live_content().classifier
    lines = [text] if text is not None else (line.rstrip("\n") for line in path)
    for line in lines:
        click.echo(json.dumps(classify(line).as_json(), ensure_ascii=False))


@click.command("contacts")
@click.option("--topic", type=click.Choice(TOPICS), help="What happened.")
@click.option("--want", type=click.Choice(WANTS), help="What the person wants.")
@click.option("--audience", metavar="A[,A...]",
              help=f"Who: {', '.join(ROLES)}; flags: {', '.join(FLAGS)} (comma-separated).")
@click.option("--at", "at", metavar="ISO-8601", help="The moment to check (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@with_appcontext
def contacts_command(topic: str | None, want: str | None, audience: str | None, at: str | None,
                     as_json: bool) -> None:
    """List the windows that fit, with open-now and next opening."""
    directory = live_content().directory
    when = parse_at(at) or datetime.now(JST)
    answers = {"topic": topic, "want": want, **audience_answers(audience)}
    found = directory.match(answers, when)
    rows = []
    for c in found:
        status = directory.status(c, when)
        rows.append({"id": c.id, "name": c.name, "phones": [p.number for p in c.phones],
                     "url": c.url, "open_now": status.open_now,
                     "next_open": status.next_open.isoformat() if status.next_open else None,
                     "today": status.today})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row, c in zip(rows, found):
        state = {True: "open now", False: "closed", None: "hours vary"}[row["open_now"]]
        nxt = f", opens {row['next_open']}" if row["next_open"] else ""
        click.echo(f"{c.id}: {c.name} [{state}{nxt}] today: {row['today']}")
        for phone in c.phones:
            click.echo(f"    {phone.describe()}")
        if c.url:
            click.echo(f"    {c.url}")


def audience_answers(value: str | None) -> dict[str, object]:
    """Turn '--audience guardian,child' into interview answers."""
    answers: dict[str, object] = {}
    for part in filter(None, (value or "").split(",")):
        if part in ROLES:
            answers["audience"] = part
        elif part in FLAGS:
            answers[part] = True
        else:
            raise click.BadParameter(f"{part!r} is not one of {', '.join(ROLES + FLAGS)}",
                                     param_hint="--audience")
    return answers
