"""Bring a database to the newest schema with Alembic, once, even when servers start together.

Every path that opens the database (gunicorn's master before it forks, `flask db
upgrade`, the Procfile's release step, `create_app`) calls `upgrade`. It holds a
lock for the whole upgrade: a PostgreSQL advisory lock, or on SQLite a file lock
beside the database. The first caller migrates; the others wait, then find the
schema current. A database made before migrations existed (tables but no
`alembic_version`) is stamped as the first revision, then upgraded.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"  # the schema `metadata.create_all` made before migrations
LOCK_ID = 7_413_202_611  # pg_advisory_lock key: "soudan-bot schema"


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    """The newest revision the code knows."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def current(conn: Connection) -> str | None:
    """The revision the database is at (None: not under migrations)."""
    return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection holding the schema lock."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_ID})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_ID})
                conn.commit()
        return
    database = engine.url.database
    lock_path = Path(database + ".migrate-lock") if database and database != ":memory:" else None
    with contextlib.ExitStack() as stack:
        if lock_path is not None:
            handle = stack.enter_context(open(lock_path, "a"))
            fcntl.flock(handle, fcntl.LOCK_EX)
        with engine.connect() as conn:
            yield conn


def upgrade(engine: Engine) -> bool:
    """Migrate to the newest schema under the lock; True if anything was changed."""
    newest = head()
    logging.getLogger("alembic").setLevel(logging.WARNING)  # our own line says what happened
    with _locked(engine) as conn:
        at = current(conn)
        if at == newest:
            return False
        cfg = _config(conn)
        if at is None and inspect(conn).has_table("inbox"):
            logger.info("database predates migrations: stamping it as revision %s", BASELINE)
            command.stamp(cfg, BASELINE)
            conn.commit()
        command.upgrade(cfg, "head")
        conn.commit()
        logger.info("database schema upgraded from %s to %s", at or "empty", newest)
        return True
