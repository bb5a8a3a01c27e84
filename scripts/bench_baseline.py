"""The benchmark's baselines, served by the Procfile's gunicorn command and config.

    gunicorn "bench_baseline:bare()"     # one route answering 200
    gunicorn "bench_baseline:insert()"   # the same, after one durable INSERT and commit

`insert` writes each body into the database named by DATABASE_URL (the bot's
own), with the bot's SQLite settings: the physical limit of "persist before you
answer". Both carry a do-nothing stand-in for the bot's services, because the
shared gunicorn.conf.py starts and stops them in every worker.
"""
from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask, request
from sqlalchemy import (Column, Float, Integer, MetaData, Table, Text, create_engine, event,
                        insert as sql_insert)

meta = MetaData()
bench_acks = Table("bench_acks", meta, Column("id", Integer, primary_key=True, autoincrement=True),
                   Column("body", Text, nullable=False), Column("at", Float, nullable=False))


class _NoServices:
    """What gunicorn.conf.py's hooks call on the bot's services: nothing to run here."""

    def warm(self, model: bool = True) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def _app() -> Flask:
    app = Flask("bench_baseline")
    app.extensions["bot"] = _NoServices()
    return app


def bare() -> Flask:
    """Flask with one route that answers 200."""
    app = _app()

    @app.post("/callback")
    def callback() -> tuple[str, int]:
        request.get_data()
        return "OK", 200

    return app


def _pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()  # as bot.store sets them: WAL, wait for the write lock
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def insert() -> Flask:
    """Flask that stores each body with one INSERT and commit before answering 200."""
    url = os.environ["DATABASE_URL"]
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _pragmas)
    meta.create_all(engine)
    app = _app()

    @app.post("/callback")
    def callback() -> tuple[str, int]:
        body = request.get_data(as_text=True)
        with engine.begin() as conn:
            conn.execute(sql_insert(bench_acks).values(body=body, at=time.time()))
        return "OK", 200

    return app
