"""A LINE chatbot for people harassed, defamed or stalked online.

`create_app` is the one place configuration enters.
"""
from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

from flask import Flask

from werkzeug.middleware.proxy_fix import ProxyFix

from . import config
from .channels.base import Channel
from .content import Content, check_content
from .desk import Desk
from .dispatch import Dispatcher
from .engine import Engine
from .notify import OutboxWorker, SlackNotifier
from .reload import ContentWatcher
from .store import Store
from .yamlsrc import ContentError

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """What the app's parts share: the store, the live content, the workers.

    `content` is None only when the app started with broken content: events
    then wait in the inbox until a valid edit arrives. `content_errors` are the
    problems of the last edit that was refused.
    """

    store: Store
    content: Content | None
    content_errors: list[ContentError]
    dispatcher: Dispatcher = None  # type: ignore[assignment]
    desk: Desk = None  # type: ignore[assignment]
    watcher: ContentWatcher = None  # type: ignore[assignment]
    channels: dict[str, Channel] = field(default_factory=dict)
    started: bool = False

    @property
    def engine(self) -> Engine | None:
        """The engine of the content now live."""
        return self.content.engine if self.content else None

    def apply(self, content: Content | None, errors: list[ContentError]) -> None:
        """Take new content live, or remember why an edit was refused."""
        if content is not None:
            self.content = content
        self.content_errors = errors

    def start(self) -> None:
        """Start this process's workers and content watcher, and warm up meanwhile."""
        if self.started:  # every request asks: answer without a lock once they run
            return
        self.started = True
        if self.dispatcher.start() | self.watcher.start():
            logger.info("dispatcher and content watcher running in this process")
            # A standby web process hardly ever handles an event: it loads the model if it must.
            model = self.dispatcher.mode != "standby"
            threading.Thread(target=self.warm, kwargs={"model": model}, name="warm",
                             daemon=True).start()

    def warm(self, model: bool = True) -> None:
        """Load now what the first message would otherwise wait for: the LINE SDK, the model.

        Acknowledging needs neither (the webhook reads LINE's JSON itself), but the web
        process also serves the console, whose staff replies go through the SDK.
        """
        from .channels import line

        try:
            line.warm(self.channels.get(line.CHANNEL))  # type: ignore[arg-type]
            if model and self.content is not None:
                self.content.classifier.train()  # at once if trained: reads the cache otherwise
                self.content.classifier("warm")  # loads the morphology dictionary
        except Exception as exc:  # the first use loads them again, and says why it fails
            logger.warning("warming up failed: %s", type(exc).__name__)

    def stop(self) -> None:
        """Stop them: each worker finishes the event in hand and releases its lease."""
        self.started = False
        self.watcher.stop()
        self.dispatcher.stop()
        logger.info("dispatcher stopped in this process")


def default_database_url(instance_path: str) -> str:
    """The SQLite file used when DATABASE_URL is not set."""
    return "sqlite:///" + os.path.join(instance_path, "bot.sqlite3")


def create_app(test_config: Mapping[str, Any] | None = None, *,
               dispatch: str | None = None) -> Flask:
    """Build the app: defaults, then the environment, then `test_config`.

    `dispatch` sets DISPATCH_MODE: the Procfile's web processes are "standby"
    (they store events and answer LINE; its worker processes handle them).
    """
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_mapping(config.from_environment(os.environ))
    if test_config:
        app.config.from_mapping(test_config)
    if dispatch is not None:
        app.config["DISPATCH_MODE"] = dispatch
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config["SECRET_KEY"]:
        logger.warning("SECRET_KEY is not set: sessions and pseudonyms change on every start")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = default_database_url(app.instance_path)
    if not app.config["MODEL_CACHE_DIR"]:
        app.config["MODEL_CACHE_DIR"] = os.path.join(app.instance_path, "models")
    if app.config["SESSION_COOKIE_SECURE"] is None:  # HTTPS wherever LINE can reach us
        app.config["SESSION_COOKIE_SECURE"] = bool(app.config["LINE_CHANNEL_SECRET"]) \
            and not app.config.get("TESTING")
    if app.config["PROXY_FIX_X_FOR"] or app.config["PROXY_FIX_X_PROTO"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"],  # type: ignore[method-assign]
                                x_proto=app.config["PROXY_FIX_X_PROTO"])

    from .channels import line, local

    store = Store(app.config["DATABASE_URL"])
    content, errors = check_content(app.config)
    for error in errors:
        logger.error("content has errors; nothing is answered until they are fixed: %s", error)
    services = Services(store, content, errors)
    services.watcher = ContentWatcher(app.config, services.apply,
                                      interval=app.config["RELOAD_SECONDS"])
    channel = line.init_app(app)
    if channel is not None:
        services.channels[line.CHANNEL] = channel
    services.channels[local.CHANNEL] = local.LocalChannel(store)
    services.desk = Desk(store, services.channels, lambda: services.engine,
                         secret=app.config["SECRET_KEY"],
                         show_profile=app.config["CONSOLE_SHOW_PROFILE"])
    slack = SlackNotifier(app.config["SLACK_WEBHOOK_URL"], app.config["CONSOLE_BASE_URL"])
    services.dispatcher = Dispatcher(
        store, lambda: services.engine, services.channels, desk=services.desk,
        transcript_days=app.config["TRANSCRIPT_DAYS"],
        threads=app.config["DISPATCH_THREADS"], lease=app.config["DISPATCH_LEASE_SECONDS"],
        poll=app.config["DISPATCH_POLL_SECONDS"], reorder=app.config["DISPATCH_REORDER_SECONDS"],
        loading_after=app.config["LOADING_AFTER_SECONDS"],
        retry_for=app.config["REPLY_RETRY_HOURS"] * 3600,
        max_backoff=app.config["RETRY_MAX_SECONDS"],
        stuck_after=app.config["STUCK_ALERT_SECONDS"], mode=app.config["DISPATCH_MODE"],
        standby_after=app.config["DISPATCH_STANDBY_SECONDS"],
        outbox=OutboxWorker(store, slack, services.channels))
    app.extensions["bot"] = services
    # Under `flask run` nothing else starts the workers and the content watcher:
    # the first request of any kind does (under gunicorn, the boot hook already has).
    app.before_request(services.start)

    from . import cli, console, simulator

    cli.init_app(app)
    console.init_app(app)
    simulator.init_app(app)
    console.csrf.exempt(line.bp)  # signed by LINE instead
    console.csrf.exempt(simulator.bp)  # JSON only, which no cross-site form can send
    return app
