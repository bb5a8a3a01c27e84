"""Gunicorn hooks: start each worker's dispatcher and content watcher as soon as it boots.

Without this a worker would start draining the inbox only on its first request,
and events left by a worker that died would wait for the next webhook.
"""
import logging


def post_worker_init(worker):  # noqa: ANN001 - gunicorn's hook signature
    """Log the app at INFO with the worker's pid, then start its dispatcher and watcher."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    worker.wsgi.extensions["bot"].start()
