"""The LINE channel: a thin webhook that verifies, stores and answers at once."""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError

from .sender import LineChannel
from .translate import CHANNEL, translate

logger = logging.getLogger(__name__)
bp = Blueprint("line", __name__)


def init_app(app: Flask) -> LineChannel | None:
    """Register /callback; return the channel, or None when LINE is not configured."""
    app.register_blueprint(bp)
    secret = app.config.get("LINE_CHANNEL_SECRET")
    token = app.config.get("LINE_CHANNEL_ACCESS_TOKEN")
    if not (secret and token):
        app.extensions["line_parser"] = None
        logger.info("LINE_CHANNEL_SECRET or LINE_CHANNEL_ACCESS_TOKEN is not set: "
                    "/callback will answer 503 until both are set")
        return None
    app.extensions["line_parser"] = WebhookParser(secret)
    return LineChannel(token, app.config.get("LINE_API_BASE_URL"),
                       app.config["LINE_API_TIMEOUT"])


@bp.post("/callback")
def callback() -> tuple[str, int]:
    """Verify the signature, store the events, answer 200; processing happens elsewhere."""
    parser: WebhookParser | None = current_app.extensions["line_parser"]
    if parser is None:
        logger.error("webhook refused: LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN "
                     "must be set to receive LINE events")
        return "LINE channel not configured", 503
    signature = request.headers.get("X-Line-Signature")
    body = request.get_data(as_text=True)
    if not signature:
        logger.warning("webhook refused: no X-Line-Signature header")
        return "missing signature", 400
    try:
        events = parser.parse(body, signature)
    except InvalidSignatureError:
        logger.warning("webhook refused: signature does not match")
        return "invalid signature", 400
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # a bad JSON body or an event missing fields (pydantic raises a ValueError)
        logger.warning("webhook refused: malformed body (%s)", type(exc).__name__)
        return "malformed body", 400
    services = current_app.extensions["bot"]
    queued = [q for q in (translate(e) for e in events) if q is not None]
    new = services.store.enqueue(queued) if queued else []
    logger.info("webhook: %d events, %d stored, %d redelivered or ignored",
                len(events), len(new), len(events) - len(new))
    if services.content is None:
        logger.error("content has errors: %d events kept in the inbox until it is fixed", len(new))
    if new:
        services.start()
        services.dispatcher.nudge()
    return "OK", 200


__all__ = ["CHANNEL", "init_app"]
