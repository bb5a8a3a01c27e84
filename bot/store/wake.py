"""Wake-up notices between processes: PostgreSQL LISTEN/NOTIFY on WAKE_CHANNEL, and on
SQLite a watch of the file's commits (`watch_sqlite`).

A webhook whose own workers are all busy stores its events with `notify=True`
(`Store.enqueue`); at commit PostgreSQL tells every listening process which
conversation has a new event. A notice is only a hint: a lost one (a listener
reconnecting) costs latency, never an event, because the dispatcher's slow poll
finds every due event anyway.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from . import Store

logger = logging.getLogger(__name__)


def _dsn(store: "Store") -> str:
    url = store.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def listen(store: "Store", wake: Callable[[str], None], stop: threading.Event,
           check_every: float = 1.0) -> None:
    """Call `wake(conversation key)` for each notice from another store, until `stop` is set."""
    import psycopg

    from . import WAKE_CHANNEL

    backoff = 1.0
    while not stop.is_set():
        try:
            with psycopg.connect(_dsn(store), autocommit=True) as conn:
                conn.execute(f"LISTEN {WAKE_CHANNEL}")
                backoff = 1.0
                while not stop.is_set():
                    for notice in conn.notifies(timeout=check_every):
                        token, _, key = notice.payload.partition(" ")
                        if token != store.token and key:  # our own: nudged in-process already
                            wake(key)
        except psycopg.Error as exc:
            logger.warning("wake-up listener disconnected (%s); reconnecting in %.0f s",
                           type(exc).__name__, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)


def watch_sqlite(store: "Store", wake: Callable[[], None], stop: threading.Event,
                 every: float = 0.02) -> None:
    """Call `wake()` whenever another connection committed to the SQLite file, until `stop`.

    SQLite's `PRAGMA data_version` changes when any other connection, in any
    process, commits: reading it costs no disk access, so it is read every `every`
    seconds. Its own connection, kept apart from the pool, never writes.
    """
    import sqlite3

    path = store.engine.url.database
    if not path or path == ":memory:":
        return
    while not stop.is_set():
        try:
            conn = sqlite3.connect(path, timeout=10.0)
            try:
                last = conn.execute("PRAGMA data_version").fetchone()[0]
                wake()  # commits made while this connection was not watching
                while not stop.wait(every):
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                    if version != last:  # a connection's own counter: compared only with itself
                        last = version
                        wake()
            finally:
                conn.close()
        except Exception as exc:  # never end the watch: without it, only the poll wakes us
            logger.warning("database watch failed (%s); again in 1 s", type(exc).__name__)
            stop.wait(1.0)
