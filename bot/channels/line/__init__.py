"""The LINE channel: a thin webhook that verifies, stores and answers at once.

line-bot-sdk's models take about a second to import: they load when the
channel is first used to send (`warm` does it when workers start), so that CLI
commands and app creation stay fast. The webhook itself never needs them: it
reads the few fields it stores from the decoded JSON (see `translate`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

from flask import Blueprint, Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

if TYPE_CHECKING:
    from .sender import LineChannel

CHANNEL = "line"
WEBHOOK_PATH = "/callback"
logger = logging.getLogger(__name__)
bp = Blueprint("line", __name__)
DRAIN_MAX = 64 * 1024 * 1024  # read (and drop) a too-large body up to this, to answer 413 cleanly


class LazyChannel:
    """The LINE channel, built (and the SDK imported) on first use, or by `warm`."""

    name = CHANNEL

    def __init__(self, build: Callable[[], LineChannel]):
        self._build = build
        self._built: LineChannel | None = None
        self._lock = threading.Lock()

    def built(self) -> LineChannel:
        """The channel itself, built once."""
        if self._built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._build()
        return self._built

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.built(), attr)


def warm(channel: LazyChannel | None) -> None:
    """Build the channel, importing the SDK (a worker's start does this)."""
    if channel is not None:
        channel.built()


def init_app(app: Flask) -> LazyChannel | None:
    """Register /callback; return the channel, or None when LINE is not configured."""
    app.register_blueprint(bp)
    secret = app.config.get("LINE_CHANNEL_SECRET")
    token = app.config.get("LINE_CHANNEL_ACCESS_TOKEN")
    if not (secret and token):
        app.extensions["line_secret"] = None
        logger.info("LINE_CHANNEL_SECRET or LINE_CHANNEL_ACCESS_TOKEN is not set: "
                    "/callback will answer 503 until both are set")
        return None
    app.extensions["line_secret"] = secret.encode()
    host, timeout = app.config.get("LINE_API_BASE_URL"), app.config["LINE_API_TIMEOUT"]
    chat_mode = bool(app.config["LINE_CHAT_MODE"])
    # Connections kept open to the API: two per thread that may send at once (see
    # WORKER_THREADS), since a slow reply's loading animation is sent while the reply is
    # still in flight, and a few for the console's messages. Fewer, and connections past
    # the pool are closed after use ("pool is full"): a new TLS handshake each time.
    connections = 2 * max(app.config["DISPATCH_THREADS"], app.config["WORKER_THREADS"]) + 4

    def build() -> LineChannel:
        from .sender import LineChannel

        return LineChannel(token, host, timeout, chat_mode=chat_mode, connections=connections)

    return LazyChannel(build)


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    """Answer 413; read the rest of the body first, so the client hears it instead of a reset."""
    length = request.content_length or 0
    if 0 < length <= DRAIN_MAX:
        stream = request.environ["wsgi.input"]
        left = length
        while left > 0:
            chunk = stream.read(min(left, 1 << 16))
            if not chunk:
                break
            left -= len(chunk)
    logger.warning("request refused: body of %d bytes is over MAX_CONTENT_LENGTH", length)
    return "request body too large", 413


def signed(body: bytes, signature: str, secret: bytes) -> bool:
    """Whether X-Line-Signature is the HMAC-SHA256 of the raw body, compared in constant time."""
    expected = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode("ascii", "replace"))


def parse_events(body: bytes) -> list[Any]:
    """The events of a verified body, as decoded JSON (checked by `translate`).

    Raises ValueError when the body is not JSON with an events list.
    """
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(type(exc).__name__) from exc
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise ValueError("no events list")
    return events


@bp.post(WEBHOOK_PATH)
def callback() -> tuple[str, int]:
    """Verify the signature, store the events, answer 200; processing happens elsewhere."""
    secret: bytes | None = current_app.extensions["line_secret"]
    if secret is None:
        logger.error("webhook refused: LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN "
                     "must be set to receive LINE events")
        return "LINE channel not configured", 503
    signature = request.headers.get("X-Line-Signature")
    if not signature:
        logger.warning("webhook refused: no X-Line-Signature header")
        return "missing signature", 400
    body = request.get_data()
    if not signed(body, signature, secret):
        logger.warning("webhook refused: signature does not match")
        return "invalid signature", 400
    try:
        events = parse_events(body)
    except ValueError as exc:
        logger.warning("webhook refused: malformed body (%s)", exc)
        return "malformed body", 400
    from .translate import translate

    services = current_app.extensions["bot"]
    queued = [q for q in map(translate, events) if q is not None]
    dispatcher = services.dispatcher
    # Other processes are woken (PostgreSQL NOTIFY) only when none of ours is free.
    new = services.store.enqueue(queued, notify=dispatcher.busy()) if queued else []
    logger.debug("webhook: %d events, %d stored, %d redelivered, ignored or malformed",
                 len(events), len(new), len(events) - len(new))
    if services.content is None:
        logger.error("content has errors: %d events kept in the inbox until it is fixed", len(new))
    if new:
        services.start()
        stored = set(new)
        dispatcher.nudge({q.conv_key for q in queued if q.event_id in stored})
    return "OK", 200


__all__ = ["CHANNEL", "WEBHOOK_PATH", "LazyChannel", "init_app", "warm"]
