"""Gunicorn hooks: start each worker's dispatcher and content watcher as soon as it boots.

Without this a worker would start draining the inbox only on its first request,
and events left by a worker that died would wait for the next webhook.
"""


def post_worker_init(worker):  # noqa: ANN001 - gunicorn's hook signature
    """Start the event dispatcher and the content watcher inside the freshly forked worker."""
    worker.wsgi.extensions["bot"].start()
