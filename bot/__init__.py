"""A LINE chatbot for people harassed, defamed or stalked online.

`create_app` is the one place configuration enters.
"""
from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from typing import Any, Mapping

from flask import Flask

from . import config
from .content import Content, load_content
from .dispatch import Dispatcher
from .engine import Engine
from .store import Store

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """What the app's parts share: the store, the live content, the dispatcher."""

    store: Store
    content: Content
    dispatcher: Dispatcher
    channels: dict[str, Any] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        """The engine of the content now live."""
        return self.content.engine


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then the environment, then `test_config`."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_mapping(config.from_environment(os.environ))
    if test_config:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "bot.sqlite3")

    from .channels import line

    store = Store(app.config["DATABASE_URL"])
    services = Services(store, load_content(app.config), None)  # type: ignore[arg-type]
    channel = line.init_app(app)
    if channel is not None:
        services.channels[line.CHANNEL] = channel
    services.dispatcher = Dispatcher(
        store, lambda: services.engine, services.channels,
        threads=app.config["DISPATCH_THREADS"], lease=app.config["DISPATCH_LEASE_SECONDS"],
        poll=app.config["DISPATCH_POLL_SECONDS"], settle=app.config["DISPATCH_SETTLE_SECONDS"],
        loading_after=app.config["LOADING_AFTER_SECONDS"])
    app.extensions["bot"] = services

    from . import cli

    cli.init_app(app)
    return app
