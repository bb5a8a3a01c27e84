"""The browser simulator at /simulator: the real engine and content, as LINE would show them.

What the editor does goes through the local channel: the same inbox,
dispatcher, engine and desk as LINE (asking for staff queues a request in the
console, and a staff reply appears here).

On in local development (no LINE channel configured). With a LINE channel it
is off unless SIMULATOR=on and SIMULATOR_PASSWORD are set; it then asks for
that password (HTTP Basic, user "editor"), with failures rate-limited like the
console's logins. The API takes JSON only, which a form on another site cannot
send.
"""
from __future__ import annotations

import hmac
import logging
import secrets
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request, session

from ..channels.local import Delivered, LocalConversation
from ..clock import JST, read_time
from ..console.auth import locked_out

logger = logging.getLogger(__name__)
bp = Blueprint("simulator", __name__, url_prefix="/simulator", template_folder="templates",
               static_folder="static", static_url_path="/static")


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
        operators = current_app.extensions["bot"].store.operators
        ip = request.remote_addr or "?"
        if locked_out(operators, "simulator:editor", ip):
            return "Too many failed logins; try again later", 429
        if not (auth and auth.username == "editor" and auth.password
                and hmac.compare_digest(auth.password.encode(), password.encode())):
            if auth:
                operators.failed("simulator:editor", ip)
            return ("Login required", 401, {"WWW-Authenticate": 'Basic realm="simulator"'})
    if request.method == "POST" and not request.is_json:
        abort(415)
    return None


def _person() -> LocalConversation:
    if "sim_id" not in session:
        session["sim_id"] = "sim-" + secrets.token_hex(8)
    return LocalConversation(current_app.extensions["bot"], session["sim_id"])


def _view(person: LocalConversation | None, delivered: list[Delivered], at: datetime) -> dict[str, Any]:
    services = current_app.extensions["bot"]
    view: dict[str, Any] = {"content_errors": [str(e) for e in services.content_errors],
                            "at": at.isoformat()}
    if person is None:
        return view
    view["messages"] = [t for d in delivered for t in d.texts()]
    view["line"] = [m for d in delivered for m in d.messages]  # what LINE receives, drawn as LINE does
    answer = [d for d in delivered if not d.pushed]
    view["buttons"] = delivered[-1].buttons() if delivered else []
    view["last"] = delivered[-1].id if delivered else person.channel.last_id(person.key)
    conv = services.store.load(str(person.key))
    view.update(state=conv.state if conv else None, answers=conv.answers if conv else {},
                fired=[f for d in answer for f in d.fired],
                flags={k: v for k, v in (conv.flags if conv else {}).items()
                       if k in ("danger", "crisis")},
                windows=[w for d in answer for w in d.windows])
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
        return jsonify(_view(None, [], at),
                       error="the content has errors" if kind else "bad kind"), 400
    person = _person()
    delivered = person.act(kind, at, text=str(body.get("text", "")), data=str(body.get("data", "")))
    return jsonify(_view(person, delivered, at))


@bp.get("/api/messages")
def messages() -> Any:
    """What arrived since `after` without the editor acting: staff replies."""
    person = _person()
    delivered = person.since(request.args.get("after", 0, type=int))
    return jsonify(_view(person, delivered, datetime.now(JST)))


@bp.post("/api/reset")
def reset() -> Any:
    """Forget the simulated conversation (and start a new one)."""
    current_app.extensions["bot"].store.forget(str(_person().key))
    session.pop("sim_id", None)
    return jsonify(ok=True)


@bp.get("/api/status")
def status() -> Any:
    """The content errors of the last refused edit, for the page to show."""
    return jsonify(_view(None, [], datetime.now(JST)))
