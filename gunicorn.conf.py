"""Gunicorn hooks: migrate once before workers start; start and stop each worker's dispatcher.

- on_starting (the master, before any worker): bring the database schema up to
  date, so that workers never race to create it.
- post_worker_init: load the LINE SDK (app creation leaves it for first use),
  then start the worker's dispatcher and content watcher at once, so events
  left by a worker that died do not wait for the next webhook.
- worker_exit (SIGTERM, SIGHUP reload, max-requests): let the dispatcher finish
  the event in hand and release its leases, so nothing is resent or stalls.
"""
import logging
import os

from flask import Flask

LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
graceful_timeout = 40  # longer than one Messaging API call (LINE_API_TIMEOUT, 30 s)


def on_starting(server):  # noqa: ANN001 - gunicorn's hook signature
    """Upgrade the schema once, under its lock, before any worker boots."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    from bot import default_database_url
    from bot.store import Store

    url = os.environ.get("DATABASE_URL") or default_database_url(Flask("bot").instance_path)
    os.makedirs(Flask("bot").instance_path, exist_ok=True)
    Store(url).engine.dispose()


def post_worker_init(worker):  # noqa: ANN001
    """Log the app at INFO with the worker's pid, then start its dispatcher and watcher."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    services = worker.wsgi.extensions["bot"]
    services.warm(model=False)  # the LINE SDK, before this worker takes requests or events
    services.start()


def worker_exit(server, worker):  # noqa: ANN001
    """Stop the worker's dispatcher: finish the event in hand, release the leases."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("bot") if app is not None else None
    if services is not None:
        services.stop()
