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
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:  # Alembic loads only when a database needs upgrading (start-up time)
    from alembic.config import Config

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"  # the schema `metadata.create_all` made before migrations
LOCK_ID = 7_413_202_611  # pg_advisory_lock key: "soudan-bot schema"


def _config(conn: Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    """The newest revision the code knows."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def current(conn: Connection) -> str | None:
    """The revision the database is at (None: not under migrations)."""
    from alembic.runtime.migration import MigrationContext

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


@lru_cache(maxsize=1)
def quick_head() -> str | None:
    """`head`, read from the migration files without Alembic (None if it is not one line).

    Every start checks the schema; a current one (nearly always) then costs one
    query instead of importing Alembic.
    """
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text("utf-8")
        found = re.search(r'^revision = "([^"]+)"', source, re.M)
        parent = re.search(r'^down_revision = "([^"]+)"', source, re.M)
        if found:
            revisions.add(found.group(1))
        if parent:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _quick_current(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:  # no such table yet: an empty database
        return None


def upgrade(engine: Engine) -> bool:
    """Migrate to the newest schema under the lock; True if anything was changed."""
    newest_known = quick_head()
    if newest_known is not None and _quick_current(engine) == newest_known:
        return False
    from alembic import command

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
