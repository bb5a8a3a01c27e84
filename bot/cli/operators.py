"""`create-operator`: accounts for the console."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.security import generate_password_hash


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
