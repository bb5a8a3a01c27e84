"""The browser simulator at /simulator: the real engine and content, as LINE would show them.

On in local development (no LINE channel configured). With a LINE channel it
is off unless SIMULATOR=on and SIMULATOR_PASSWORD are set; it then asks for
that password (HTTP Basic, user "editor"). The API takes JSON only, which a
form on another site cannot send.
"""
from __future__ import annotations

import hmac
import logging
import secrets
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request, session

from ..channels.line.render import render
from ..clock import JST, read_time
from ..engine import ContactCard, ConvKey, Inbound, Outcome

logger = logging.getLogger(__name__)
bp = Blueprint("simulator", __name__, url_prefix="/simulator", template_folder="templates")


def mode(app: Flask) -> str:
    """'open', 'login' or 'off', from the settings."""
    setting = (app.config.get("SIMULATOR") or "auto").lower()
    production = bool(app.config.get("LINE_CHANNEL_SECRET"))
    if setting == "off" or (setting == "auto" and production):
        return "off"
    if production:
        if not app.config.get("SIMULATOR_PASSWORD"):
            logger.warning("SIMULATOR=on with a LINE channel needs SIMULATOR_PASSWORD: it stays off")
            return "off"
        return "login"
    return "open"


def init_app(app: Flask) -> None:
    """Register the simulator if it is on."""
    app.extensions["simulator_mode"] = mode(app)
    if app.extensions["simulator_mode"] != "off":
        app.register_blueprint(bp)


@bp.before_request
def guard() -> Any:
    if current_app.extensions["simulator_mode"] == "login":
        auth = request.authorization
        password = current_app.config["SIMULATOR_PASSWORD"]
        if not (auth and auth.username == "editor" and auth.password
                and hmac.compare_digest(auth.password.encode(), password.encode())):
            return ("Login required", 401, {"WWW-Authenticate": 'Basic realm="simulator"'})
    if request.method == "POST" and not request.is_json:
        abort(415)
    return None


def _key() -> str:
    if "sim_id" not in session:
        session["sim_id"] = secrets.token_hex(8)
    return str(ConvKey("sim", session["sim_id"]))


def _view(outcome: Outcome | None, at: datetime) -> dict[str, Any]:
    services = current_app.extensions["bot"]
    view: dict[str, Any] = {"content_errors": [str(e) for e in services.content_errors],
                            "at": at.isoformat()}
    if outcome is None:
        return view
    batches = render(outcome.reply)  # exactly what LINE would receive
    view["messages"] = [m["text"] for batch in batches for m in batch]
    items = batches[-1][-1].get("quickReply", {}).get("items", []) if batches else []
    view["buttons"] = [{"label": i["action"]["label"], "data": i["action"]["data"],
                        "text": i["action"]["displayText"]} for i in items]
    conv = outcome.conv
    view.update(state=conv.state, answers=conv.answers, fired=outcome.fired,
                flags={k: v for k, v in conv.flags.items() if k in ("danger", "crisis")},
                windows=[{"id": m.contact_id, "title": m.title, "open_now": m.open_now}
                         for m in outcome.reply.messages if isinstance(m, ContactCard)])
    return view


@bp.get("")
def page() -> str:
    """The simulator page."""
    return render_template("simulator.html")


@bp.post("/api/turn")
def turn() -> Any:
    """One thing the editor does: follow, type or tap, at the chosen time."""
    services = current_app.extensions["bot"]
    body = request.get_json(silent=True) or {}
    try:
        at = read_time(body.get("at")) or datetime.now(JST)
    except ValueError as exc:
        return jsonify(error=str(exc)), 400
    kind = body.get("kind")
    if kind not in ("follow", "text", "button") or services.engine is None:
        return jsonify(_view(None, at), error="the content has errors" if kind else "bad kind"), 400
    key = _key()
    conv = None if kind == "follow" else services.store.load(key)
    outcome = services.engine.handle(conv, Inbound(kind, at, text=str(body.get("text", "")),
                                                   data=str(body.get("data", ""))))
    services.store.save(key, outcome.conv)
    return jsonify(_view(outcome, at))


@bp.post("/api/reset")
def reset() -> Any:
    """Forget the simulated conversation."""
    current_app.extensions["bot"].store.forget(_key())
    return jsonify(ok=True)


@bp.get("/api/status")
def status() -> Any:
    """The content errors of the last refused edit, for the page to show."""
    return jsonify(_view(None, datetime.now(JST)))
