"""Flask commands for newcomers, editors and staff: `flask --app bot chat`, ..."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from werkzeug.security import generate_password_hash

from .clock import JST, read_time
from .contacts.model import FLAGS, ROLES, TOPICS, WANTS
from .engine import Inbound, Reply, diagram
from .stories import read_story, run_story
from .validate import validate



def live_content():
    """The content now live; with broken content, print every problem and exit 1."""
    services = current_app.extensions["bot"]
    if services.content is None:
        for error in services.content_errors:
            click.echo(str(error), err=True)
        raise SystemExit(1)
    return services.content


def parse_at(value: str | None) -> datetime | None:
    """Read --at: an ISO-8601 time, Japan time when no zone is given."""
    try:
        return read_time(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


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


@click.command("classify")
@click.argument("text")
@with_appcontext
def classify_command(text: str) -> None:
    """Show what the keyword rules read in TEXT, as one JSON object."""
    signals = live_content().classifier(text)
    click.echo(json.dumps(signals.as_json(), ensure_ascii=False))


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


@click.command("validate")
@click.option("--today", metavar="YYYY-MM-DD", help="Judge verified_on dates as of this day.")
@with_appcontext
def validate_command(today: str | None) -> None:
    """Check every flow, contacts.yaml and keywords.yaml; exit 1 on any error."""
    day = date.fromisoformat(today) if today else date.today()
    problems = validate(current_app.config, day)
    for problem in problems:
        click.echo(str(problem))
    errors = [p for p in problems if not p.warning]
    summary = f"{len(errors)} errors, {len(problems) - len(errors)} warnings"
    click.echo(summary if problems else "ok: the flows, contacts.yaml and keywords.yaml are valid",
               err=True)
    if errors:
        raise SystemExit(1)


@click.command("diagram")
@click.argument("flow", required=False)
@click.option("--format", "fmt", type=click.Choice(["mermaid", "svg"]), default="mermaid",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file.")
@with_appcontext
def diagram_command(flow: str | None, fmt: str, out: str | None) -> None:
    """Draw a flow's state machine (default: every flow)."""
    flows = live_content().engine.flows
    names = [flow] if flow else list(flows)
    unknown = [n for n in names if n not in flows]
    if unknown:
        raise click.BadParameter(f"no flow named {unknown[0]!r}; flows: {', '.join(flows)}",
                                 param_hint="FLOW")
    if fmt == "mermaid":
        text = "\n".join(diagram.mermaid(flows[n].spec) for n in names)
        if out:
            Path(out).write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)
        return
    if len(names) != 1 or not out:
        raise click.UsageError("SVG needs one FLOW and --out FILE")
    if shutil.which("dot") is None:
        raise click.ClickException("SVG needs Graphviz's 'dot' command, which is not installed: "
                                   "apt-get install graphviz (Debian, Ubuntu) or brew install "
                                   "graphviz (macOS). Mermaid needs nothing: --format mermaid")
    svg = subprocess.run(["dot", "-Tsvg"], input=diagram.dot(flows[names[0]].spec),
                         capture_output=True, text=True, check=True).stdout
    Path(out).write_text(svg, encoding="utf-8")


@click.command("stories")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def stories_command(files: tuple[str, ...]) -> None:
    """Play conversation stories (default: every file in stories/); exit 1 on a failure."""
    engine = live_content().engine
    paths = [Path(f) for f in files] or sorted(Path(current_app.config["STORIES_DIR"]).glob("*.yaml"))
    if not paths:
        raise click.ClickException(f"no stories in {current_app.config['STORIES_DIR']}")
    failed = 0
    for path in paths:
        story, errors = read_story(path, str(path))
        failures = run_story(engine, story) if story else []
        for problem in list(errors) + failures:
            click.echo(str(problem))
        ok = story is not None and not failures
        failed += not ok
        click.echo(f"{'PASS' if ok else 'FAIL'} {path}" + (f": {story.name}" if story else ""))
    click.echo(f"{len(paths) - failed} passed, {failed} failed")
    if failed:
        raise SystemExit(1)


@click.command("create-operator")
@click.argument("name")
@click.password_option("--password", prompt="Password", confirmation_prompt=True,
                       help="Asked for when not given; at least 12 characters.")
@with_appcontext
def create_operator_command(name: str, password: str) -> None:
    """Create an operator account for the console (or set a new password)."""
    if len(password) < 12:
        raise click.BadParameter("use at least 12 characters", param_hint="password")
    operators = current_app.extensions["bot"].store.operators
    hashed = generate_password_hash(password)  # werkzeug's current default: scrypt
    if operators.create(name, hashed):
        click.echo(f"operator {name!r} created")
    elif click.confirm(f"operator {name!r} exists; set a new password?"):
        operators.set_password(name, hashed)
        click.echo(f"password of {name!r} changed")


def init_app(app: Flask) -> None:
    """Register the commands."""
    for command in (chat_command, classify_command, contacts_command, validate_command,
                    diagram_command, stories_command, create_operator_command):
        app.cli.add_command(command)
