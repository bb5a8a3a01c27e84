"""Operators' login: hashed passwords, rate-limited failures, sessions kept on the server.

A session is a row in `console_sessions`; the cookie carries only its random
id. Logging out deletes the row, so a copy of the cookie stops working. An
idle session ends on the server; the pages' own polling does not count as
activity.

Failed logins lock a name *from one address* (so an attacker elsewhere cannot
lock the real operator out), with a backoff that doubles per failure; an
address that fails for many names is locked too.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from ..store import Operators

MAX_FAILURES = 5            # failed logins for one name from one address ...
FAILURE_WINDOW = 15 * 60    # ... within this many seconds start a lockout
BACKOFF = 30.0              # the first lockout, doubled per further failure ...
BACKOFF_MAX = 15 * 60.0     # ... up to this
ADDRESS_FAILURES = 20       # failures from one address, any names, that lock it

login_manager = LoginManager()
login_manager.login_view = "console_auth.login"
login_manager.login_message = "ログインしてください。"
bp = Blueprint("console_auth", __name__, url_prefix="/console", template_folder="templates")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to check unknown names against, so they cost the same (made once, when needed)."""
    return generate_password_hash(secrets.token_hex(16))


@dataclass
class OperatorUser(UserMixin):
    """The logged-in operator, as Flask-Login sees them: identified by the session's id."""

    session_id: str
    id: int
    name: str

    def get_id(self) -> str:
        return self.session_id


@login_manager.user_loader
def load_user(session_id: str) -> OperatorUser | None:
    """The operator of a live server-side session; None if it ended or idled out."""
    store = current_app.extensions["bot"].store
    found = store.operators.session(session_id)
    if found is None:
        return None
    operator, seen_at = found
    if time.time() - seen_at > current_app.config["CONSOLE_SESSION_MINUTES"] * 60:
        store.operators.end_session(session_id)
        return None
    return OperatorUser(session_id, operator.id, operator.name)


def touch(polling: bool) -> None:
    """Count this request as the operator's activity, unless it is the page's own polling."""
    if not polling and current_user.is_authenticated:
        current_app.extensions["bot"].store.operators.touch_session(current_user.session_id)


def locked_out(operators: Operators, name: str, ip: str) -> bool:
    """Whether logins for `name` from `ip` (or from `ip` at all) are refused for now."""
    now = time.time()
    failures = operators.failures(name, ip, FAILURE_WINDOW)
    if len(failures) >= MAX_FAILURES:
        wait = min(BACKOFF_MAX, BACKOFF * 2 ** (len(failures) - MAX_FAILURES))
        if now - max(failures) < wait:
            return True
    return operators.address_failures(ip, FAILURE_WINDOW) >= ADDRESS_FAILURES


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The one console page that needs no login."""
    if request.method == "GET":
        return render_template("console/login.html")
    operators = current_app.extensions["bot"].store.operators
    name = request.form.get("name", "").strip()
    ip = request.remote_addr or "?"
    if locked_out(operators, name, ip):
        flash("ログインの失敗が続いたため、しばらく受け付けません。15分ほどおいてください。")
        return render_template("console/login.html"), 429
    operator = operators.by_name(name)
    password = request.form.get("password", "")
    valid = check_password_hash(operator.password_hash if operator else _dummy_hash(), password)
    if operator is None or not valid:
        operators.failed(name, ip)
        flash("名前かパスワードが違います。")
        return render_template("console/login.html"), 401
    session.clear()
    session_id = operators.start_session(operator.id)
    login_user(OperatorUser(session_id, operator.id, operator.name))
    current_app.extensions["bot"].store.handoffs.audit(operator.name, "logged_in")
    return redirect(url_for("console.queue"))


@bp.post("/logout")
def logout() -> Any:
    """End the session on the server, then in the browser."""
    if current_user.is_authenticated:
        store = current_app.extensions["bot"].store
        store.handoffs.audit(current_user.name, "logged_out")
        store.operators.end_session(current_user.session_id)
    logout_user()
    session.clear()
    return redirect(url_for("console_auth.login"))
