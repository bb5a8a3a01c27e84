"""`flask --app bot db upgrade`: bring the database schema up to date (the release step)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..store import migrate

db = AppGroup("db", help="The database schema (Alembic migrations).")


@db.command("upgrade")
def upgrade_command() -> None:
    """Migrate to the newest schema; safe while other servers start (it takes a lock)."""
    engine = current_app.extensions["bot"].store.engine
    changed = migrate.upgrade(engine)  # create_app already did; this reports where it is
    with engine.connect() as conn:
        at = migrate.current(conn)
    click.echo(f"schema at revision {at}" + (" (upgraded)" if changed else ""))
