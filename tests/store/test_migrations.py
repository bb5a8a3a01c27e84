"""The schema under Alembic: a database from before migrations keeps its data and is upgraded."""
from __future__ import annotations

import threading
import time

from alembic import command
from sqlalchemy import text

from bot.channels.base import stored_inbound
from bot.store import Store, database_url, migrate
from bot.store.schema import metadata
from sqlalchemy import create_engine


def old_database(url: str) -> None:
    """A database as `metadata.create_all` made it before migrations: no alembic_version."""
    engine = create_engine(database_url(url))
    with engine.connect() as conn:
        command.upgrade(migrate._config(conn), migrate.BASELINE)
        conn.commit()
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text(
            "INSERT INTO conversations (key, flow, state, answers, history, flags) "
            "VALUES ('line:U1', 'main', 'what', '{\"audience\": \"self\"}', '[]', '{}')"))
        conn.execute(text(
            "INSERT INTO inbox (event_id, conv_key, ts_ms, received_at, status, inbound, "
            "delivery, attempts, next_try_at) VALUES ('E1', 'line:U1', :ts, 0, 'pending', "
            ":inbound, '{\"reply_token\": \"r\"}', 0, 0)"),
            {"ts": 1795000000000, "inbound": __import__("json").dumps(
                stored_inbound("text", 1795000000000, text="こんにちは"))})
        conn.execute(text("INSERT INTO operators (name, password_hash, created_at) "
                          "VALUES ('alice', 'scrypt:x', 0)"))
        conn.commit()
    engine.dispose()


def test_a_database_from_before_migrations_is_upgraded_with_its_data(database):
    old_database(database)
    store = Store(database)  # stamps the baseline, then upgrades
    with store.engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()
    assert store.load("line:U1").answers == {"audience": "self"}
    assert store.operators.by_name("alice") is not None
    ev = store.next_event("line:U1", time.time())
    assert ev.event_id == "E1" and ev.inbound["text"] == "こんにちは"
    assert (ev.sent_batches, ev.safety) == (0, False)  # the new columns, with defaults
    assert store.outbox.pending() == 0


def test_the_migrated_schema_is_the_one_the_code_describes(database):
    store = Store(database)
    from sqlalchemy import inspect
    found = inspect(store.engine)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in found.get_columns(table.name)} == set(table.c.keys()), table.name


def test_servers_upgrading_at_once_migrate_once(database):
    errors, barrier = [], threading.Barrier(4)

    def boot() -> None:
        barrier.wait()
        try:
            Store(database).engine.dispose()
        except Exception as exc:  # noqa: BLE001 - any failure to boot fails the test
            errors.append(exc)

    threads = [threading.Thread(target=boot) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(database).engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()


def test_a_current_schema_is_recognised_without_alembic(database):
    """Each start checks the schema: when it is current, one query answers, not Alembic."""
    Store(database).engine.dispose()  # migrated
    assert migrate.quick_head() == migrate.head()
    engine = create_engine(database_url(database))
    assert migrate._quick_current(engine) == migrate.head()
    assert migrate.upgrade(engine) is False
    engine.dispose()
