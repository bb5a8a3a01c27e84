"""`create-operator`: accounts for the console."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.security import generate_password_hash

MIN_PASSWORD = 12


def long_enough(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a short password as soon as it is typed, before asking for it again."""
    if value is not None and len(value) < MIN_PASSWORD:
        raise click.BadParameter(f"use at least {MIN_PASSWORD} characters")
    return value


@click.command("create-operator")
@click.argument("name")
@click.password_option("--password", prompt="Password", confirmation_prompt=True,
                       callback=long_enough,
                       help=f"Asked for when not given; at least {MIN_PASSWORD} characters.")
@with_appcontext
def create_operator_command(name: str, password: str) -> None:
    """Create an operator account for the console (or set a new password)."""
    operators = current_app.extensions["bot"].store.operators
    hashed = generate_password_hash(password)  # werkzeug's current default: scrypt
    if operators.create(name, hashed):
        click.echo(f"operator {name!r} created")
    elif click.confirm(f"operator {name!r} exists; set a new password?"):
        operators.set_password(name, hashed)
        click.echo(f"password of {name!r} changed")
