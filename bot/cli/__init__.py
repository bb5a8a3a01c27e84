"""Flask commands: `flask --app bot chat`, classify, contacts, validate, diagram, stories, ..."""
from __future__ import annotations

from datetime import datetime

import click
from flask import Flask, current_app

from ..clock import read_time


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


def init_app(app: Flask) -> None:
    """Register the commands."""
    from . import chat, database, editor, lookup, operators, richmenu, work

    for command in (chat.chat_command, lookup.classify_command, lookup.contacts_command,
                    editor.validate_command, editor.diagram_command, editor.stories_command,
                    editor.crossvalidate_command,
                    operators.create_operator_command, richmenu.richmenu_command,
                    work.work_command):
        app.cli.add_command(command)
    app.cli.add_command(database.db)
