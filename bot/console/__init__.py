"""The operators' console at /console: the queue, a conversation, and taking it over.

Every route needs a login except /console/login; every POST carries a CSRF
token (Flask-WTF); every view and action is audited. Every page of the app
carries security headers: a Content-Security-Policy that allows only our own
scripts (no inline script or handler), no framing, no sniffing, no referrer.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from flask import (Blueprint, Flask, Response, abort, current_app, flash, jsonify, redirect,
                   render_template, request, url_for)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFProtect

from ..channels.line import WEBHOOK_PATH
from ..clock import JST
from ..desk import StaffReplyError
from ..store import Handoff, Line
from . import auth
from .labels import action_label, detail_label, detection_rows

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")
csrf = CSRFProtect()
PRIORITY = {0: "", 1: "危険", 2: "危機"}
WHO = {"in": "相談者", "bot": "ボット", "staff": "スタッフ", "note": "メモ"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


class Sessions(SecureCookieSessionInterface):
    """The console's signed cookie sessions; an empty one for LINE's webhook, which sends
    no cookie: unsigning one for every acknowledgement was 5 % of its CPU. Empty, not
    Flask's null session, so that a hook writing to it cannot fail the webhook."""

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        if request.path == WEBHOOK_PATH:
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Register the console, its login, CSRF protection and the security headers."""
    app.session_interface = Sessions()
    csrf.init_app(app)
    auth.login_manager.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(bp)
    app.after_request(security_headers)


def security_headers(response: Response) -> Response:
    """Headers every page of the app carries (OWASP ASVS L1)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


@bp.before_request
@login_required
def guard() -> Any:
    """Every console route needs a live session; polling does not keep it alive."""
    auth.touch(polling=request.path.startswith("/console/api/"))
    return None


def _services() -> Any:
    return current_app.extensions["bot"]


def _handoff(handoff_id: int) -> Handoff:
    handoff = _services().store.handoffs.get(handoff_id)
    if handoff is None:
        abort(404)
    return handoff


def person(key: str) -> str:
    """A pseudonym for the person: operators never see a LINE id (keyed: unlinkable without it)."""
    return "相談者 #" + _services().desk.pseudonym(key, 6)


def answer_labels(answers: dict[str, Any]) -> dict[str, str]:
    """The interview's answers in the words of the buttons that gave them.

    An answer takes the label of a button in the question that asks for it (18歳未満
    for `child`), not of the first button anywhere that happens to set it.
    """
    engine = _services().engine
    if engine is None:
        return {k: str(v) for k, v in answers.items()}
    labels: dict[str, str] = {}
    fallback: dict[str, str] = {}
    for state in engine.spec.states.values():
        for button in state.buttons:
            for key, value in button.set.items():
                if answers.get(key) == value:
                    (labels if state.asks == key else fallback).setdefault(key, button.label)
    return {k: labels.get(k) or fallback.get(k) or str(v) for k, v in answers.items()}


def _row(h: Handoff) -> dict[str, Any]:
    conv = _services().store.load(h.conv_key)
    answers = answer_labels(conv.answers if conv else {})
    return {"id": h.id, "person": h.display_name or person(h.conv_key), "status": h.status,
            "priority": h.priority, "priority_label": PRIORITY.get(h.priority, ""),
            "claimed_by": h.claimed_by, "waited_minutes": int((time.time() - h.requested_at) // 60),
            "topic": answers.get("topic", "-"), "want": answers.get("want", "-"),
            "audience": answers.get("audience", "-"), "url": url_for("console.conversation", handoff_id=h.id)}


def _line(line: Line) -> dict[str, Any]:
    at = datetime.fromtimestamp(line.at, JST)
    return {"id": line.id, "at": at.strftime("%m/%d %H:%M"), "who": WHO.get(line.direction, line.direction),
            "direction": line.direction, "text": line.text, "operator": line.operator,
            "status": line.status, "error": line.error}


def stuck() -> list[dict[str, Any]]:
    """Conversations whose bot answer has not been delivered for a while."""
    rows = _services().store.stuck_conversations(
        time.time() - current_app.config["STUCK_ALERT_SECONDS"])
    return [{"person": person(r["conv_key"]), "minutes": int((time.time() - r["since"]) // 60),
             "attempts": r["attempts"]} for r in rows]


@bp.get("")
def queue() -> str:
    """Waiting conversations, most urgent and longest waiting first."""
    return render_template("console/queue.html", stuck=stuck(),
                           rows=[_row(h) for h in _services().store.handoffs.queue()])


@bp.get("/api/queue")
def queue_json() -> Any:
    return jsonify([_row(h) for h in _services().store.handoffs.queue()])


@bp.get("/c/<int:handoff_id>")
def conversation(handoff_id: int) -> str:
    """A conversation's transcript and answers; viewing is audited."""
    handoff = _handoff(handoff_id)
    services = _services()
    services.store.handoffs.audit(current_user.name, "viewed", handoff.conv_key, handoff.id)
    conv = services.store.load(handoff.conv_key)
    lines = [_line(l) for l in services.store.handoffs.transcript(handoff.conv_key)]
    return render_template("console/conversation.html", h=_row(handoff), handoff=handoff,
                           lines=lines, answers=answer_labels(conv.answers if conv else {}),
                           flags=conv.flags if conv else {}, me=current_user.name,
                           detections=detection_rows(conv.flags if conv else {}))


@bp.get("/api/c/<int:handoff_id>")
def conversation_json(handoff_id: int) -> Any:
    handoff = _handoff(handoff_id)
    after = request.args.get("after", 0, type=int)
    lines = _services().store.handoffs.transcript(handoff.conv_key, after)
    return jsonify(handoff=_row(handoff), lines=[_line(l) for l in lines])


def _mine(handoff: Handoff) -> bool:
    """Only the operator who holds a conversation may act on it."""
    if handoff.status != "claimed" or handoff.claimed_by != current_user.name:
        holder = f"（{handoff.claimed_by}さんが対応中です。引き継ぐ場合は「引き継ぐ」を押してください）" \
            if handoff.status == "claimed" else "（先に「対応する」を押してください）"
        flash("この相談を操作できません" + holder)
        return False
    return True


def _back(handoff: Handoff) -> Any:
    return redirect(url_for("console.conversation", handoff_id=handoff.id))


@bp.post("/c/<int:handoff_id>/claim")
def claim(handoff_id: int) -> Any:
    handoff = _handoff(handoff_id)
    result = _services().desk.claim(handoff, current_user.name)
    messages = {"held": f"{_handoff(handoff_id).claimed_by}さんが先に対応を始めました。",
                "ended": "この相談はすでに終わっています。"}
    if result in messages:
        flash(messages[result])
        return _back(handoff), 409
    return _back(handoff)


@bp.post("/c/<int:handoff_id>/takeover")
def takeover(handoff_id: int) -> Any:
    """Take a conversation over from another operator: explicit, and audited."""
    handoff = _handoff(handoff_id)
    if _services().desk.claim(handoff, current_user.name, takeover=True) == "ended":
        flash("この相談はすでに終わっています。")
        return _back(handoff), 409
    return _back(handoff)


@bp.post("/c/<int:handoff_id>/reply")
def reply(handoff_id: int) -> Any:
    handoff = _handoff(handoff_id)
    if not _mine(handoff):
        return _back(handoff), 409
    try:
        line = _services().desk.reply(handoff, current_user.name, request.form.get("text", ""))
    except StaffReplyError as exc:
        flash(f"送れませんでした: {exc}")
        return _back(handoff), 400
    if line.status == "failed":
        flash("LINEに届きませんでした。返信は保存してあります。「再送」で送り直せます。")
    return _back(handoff)


@bp.post("/c/<int:handoff_id>/resend/<int:line_id>")
def resend(handoff_id: int, line_id: int) -> Any:
    handoff = _handoff(handoff_id)
    line = _services().store.handoffs.line(line_id)
    if line is None or line.handoff_id != handoff.id:
        abort(404)
    if not _mine(handoff):
        return _back(handoff), 409
    if line.status != "sent":
        line = _services().desk.resend(handoff, line, current_user.name)
        if line.status == "failed":
            flash("まだLINEに届きません。少し待ってから再送してください。")
    return _back(handoff)


@bp.post("/c/<int:handoff_id>/note")
def note(handoff_id: int) -> Any:
    handoff = _handoff(handoff_id)
    _services().desk.note(handoff, current_user.name, request.form.get("text", ""))
    return _back(handoff)


@bp.post("/c/<int:handoff_id>/<any(returned, closed):how>")
def finish(handoff_id: int, how: str) -> Any:
    """Give the conversation back to the bot, or close it; the person is told."""
    handoff = _handoff(handoff_id)
    if not _mine(handoff):
        return _back(handoff), 409
    problem = _services().desk.finish(handoff, current_user.name, how)
    if problem:
        flash(f"注意: {problem}")
    return redirect(url_for("console.queue"))


@bp.get("/audit")
def audit_log() -> str:
    """Who viewed, claimed, replied, returned and closed, and when (never message text)."""
    rows = _services().store.handoffs.audit_log()[-300:][::-1]
    return render_template("console/audit.html", rows=[
        {"at": datetime.fromtimestamp(r.at, JST).strftime("%Y-%m-%d %H:%M:%S"), "operator": r.operator or "-",
         "action": action_label(r.action),
         "person": person(r.conv_key) if r.conv_key and not r.conv_key.startswith("deleted:")
         else (r.conv_key or "-"), "handoff": r.handoff_id or "-",
         "detail": detail_label(r.action, r.detail)} for r in rows])
