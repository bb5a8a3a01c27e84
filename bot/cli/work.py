"""`flask --app bot work`: the processes that handle stored events (the Procfile's worker).

The Procfile's web processes only verify, store and acknowledge webhooks
(dispatch mode "standby"); these processes take the events from the database and
answer them. Keeping the two apart means an acknowledgement never waits for the
CPU behind the handling of earlier events: LINE gives a webhook a few seconds,
and an event it could not deliver may be lost, while an answer can be a moment
late. For the same reason these processes run at a lower CPU priority (`--nice`).

With `--processes N` (N > 1) a small supervisor forks N workers and starts a new
one when one dies (killed, or out of memory), as gunicorn does for web workers.
While all N are up, each takes the wake-ups of its share of conversations, so
they do not all race for every event; while one is down or starting, the others
take every wake-up. SIGTERM, SIGINT or SIGHUP stops them gracefully: each
finishes the event in hand and gives its leases back.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

logger = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
RESPAWN_PAUSE = 1.0  # a worker that died this soon after it started is restarted after a pause


STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
SHARE = signal.SIGUSR2      # the supervisor to its workers: all are up, take your share
TAKE_ALL = signal.SIGUSR1   # the supervisor to its workers: one is down, take any wake-up


@click.command("work")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (each runs WORKER_THREADS threads).")
@click.option("--nice", default=10, show_default=True, type=click.IntRange(0, 19),
              help="Lower the workers' CPU priority by this much, so acks come first.")
@with_appcontext
def work_command(processes: int, nice: int) -> None:
    """Handle stored events until stopped (SIGTERM or Ctrl-C)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    services = current_app.extensions["bot"]
    if "line" not in services.channels:  # it would mark every LINE event failed, unanswered
        raise click.UsageError("LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN must be set "
                               "for the worker, as for the web process")
    # Each thread carries one event at a time, the wait for LINE's answer included; at
    # most DISPATCH_THREADS of them decide (CPU and database) at once.
    services.dispatcher.threads = current_app.config["WORKER_THREADS"]
    if services.dispatcher.threads < 1:
        raise click.UsageError("WORKER_THREADS must be at least 1")
    if nice:
        os.nice(nice)  # before forking: the workers inherit it
    if processes == 1:
        raise SystemExit(run(services))
    raise SystemExit(supervise(services, processes))


def run(services: Any, shard: tuple[int, int] | None = None, ready: int | None = None) -> int:
    """One worker: start the dispatcher in worker mode and wait for a signal to stop.

    `shard` (i, n): this is worker i of n under a supervisor. It takes every
    wake-up until the supervisor says all n are up (SHARE), then only its share
    (see `Dispatcher.shard`), and every one again when told a sibling is down.
    `ready`: a pipe to tell the supervisor this worker is taking events.
    """
    stop = threading.Event()
    dispatcher = services.dispatcher
    dispatcher.mode = "worker"
    for sig in STOPS:
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(SHARE, lambda *_: setattr(dispatcher, "shard", shard))
    signal.signal(TAKE_ALL, lambda *_: setattr(dispatcher, "shard", None))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (*STOPS, SHARE, TAKE_ALL))
    services.warm()  # the LINE SDK and the model, before the first event
    services.start()
    logger.info("worker handling events (%d threads)", dispatcher.threads)
    if ready is not None:
        os.write(ready, f"{os.getpid()}\n".encode())
    while not stop.wait(1.0):
        pass
    services.stop()
    return 0


def supervise(services: Any, processes: int) -> int:
    """Fork `processes` workers, start a new one whenever one dies, until told to stop."""
    services.store.engine.dispose()  # no pooled connection may be shared across a fork
    children: dict[int, tuple[int, float]] = {}  # pid -> (shard index, started)
    due: dict[int, float] = {}                   # shard index -> when to start its worker
    ready: set[int] = set()
    sharing = False
    stopping = threading.Event()
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)

    def tell(sig: int) -> None:
        for pid in list(children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def on_stop(_signum: int, _frame: Any) -> None:
        stopping.set()
        tell(signal.SIGTERM)

    def spawn(index: int) -> None:
        # Stop signals wait until the child is in `children`, so each reaches every child.
        # In the child, SHARE and TAKE_ALL wait until `run` has set their handlers: by
        # default either signal would kill it (TAKE_ALL comes whenever a sibling dies).
        signal.pthread_sigmask(signal.SIG_BLOCK, (*STOPS, SHARE, TAKE_ALL))
        try:
            pid = os.fork()
            if pid == 0:  # the worker
                code = 1
                try:
                    os.close(read_end)
                    code = run(services, (index, processes), write_end)
                finally:
                    logging.shutdown()
                    os._exit(code)
            children[pid] = (index, time.monotonic())
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, (*STOPS, SHARE, TAKE_ALL))

    for sig in STOPS:
        signal.signal(sig, on_stop)
    for index in range(processes):
        spawn(index)
    logger.info("supervising %d worker processes", processes)
    while children or (due and not stopping.is_set()):
        stopping.wait(0.2)
        try:
            ready.update(int(p) for p in os.read(read_end, 4096).split())
        except BlockingIOError:
            pass
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                break
            if pid == 0:
                break
            index, started = children.pop(pid, (-1, 0.0))
            ready.discard(pid)
            if index < 0 or stopping.is_set():
                continue
            tell(TAKE_ALL)  # until its replacement is up, the others take its share too
            sharing = False
            logger.warning("worker %d exited (%s); starting another", pid,
                           f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                           else f"code {os.WEXITSTATUS(status)}")
            soon = time.monotonic() - started < RESPAWN_PAUSE
            due[index] = time.monotonic() + (RESPAWN_PAUSE if soon else 0.0)
        for index, at in list(due.items()):
            if at <= time.monotonic() and not stopping.is_set():
                del due[index]
                spawn(index)  # the same share of conversations
        if not sharing and not due and len(children) == processes and ready >= set(children):
            tell(SHARE)
            sharing = True
    return 0
