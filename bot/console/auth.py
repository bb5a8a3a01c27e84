"""Operators' login: hashed passwords, rate-limited failures, sessions that expire."""
from __future__ import annotations

import time
from dataclasses import dataclass

from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.security import check_password_hash

MAX_FAILURES = 5            # failed logins per name or address ...
FAILURE_WINDOW = 15 * 60    # ... within this many seconds lock further tries

login_manager = LoginManager()
login_manager.login_view = "console_auth.login"
login_manager.login_message = "ログインしてください。"
bp = Blueprint("console_auth", __name__, url_prefix="/console", template_folder="templates")


@dataclass
class OperatorUser(UserMixin):
    """The logged-in operator, as Flask-Login sees them."""

    id: int
    name: str

    def get_id(self) -> str:
        return str(self.id)


@login_manager.user_loader
def load_user(user_id: str) -> OperatorUser | None:
    operator = current_app.extensions["bot"].store.operators.by_id(int(user_id))
    return OperatorUser(operator.id, operator.name) if operator else None


def session_expired() -> bool:
    """An idle session ends on the server too, whatever the cookie says."""
    limit = current_app.config["CONSOLE_SESSION_MINUTES"] * 60
    last = session.get("seen_at", 0)
    if current_user.is_authenticated and time.time() - last > limit:
        logout_user()
        session.clear()
        return True
    session["seen_at"] = time.time()
    return False


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The one console page that needs no login."""
    if request.method == "GET":
        return render_template("console/login.html")
    operators = current_app.extensions["bot"].store.operators
    name = request.form.get("name", "").strip()
    ip = request.remote_addr or "?"
    if operators.recent_failures(name, ip, FAILURE_WINDOW) >= MAX_FAILURES:
        flash("ログインの失敗が続いたため、しばらく受け付けません。15分ほどおいてください。")
        return render_template("console/login.html"), 429
    operator = operators.by_name(name)
    if operator is None or not check_password_hash(operator.password_hash,
                                                   request.form.get("password", "")):
        operators.failed(name, ip)
        flash("名前かパスワードが違います。")
        return render_template("console/login.html"), 401
    session.clear()
    login_user(OperatorUser(operator.id, operator.name))
    session.permanent = True
    session["seen_at"] = time.time()
    current_app.extensions["bot"].store.handoffs.audit(operator.name, "logged_in")
    return redirect(url_for("console.queue"))


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        current_app.extensions["bot"].store.handoffs.audit(current_user.name, "logged_out")
    logout_user()
    session.clear()
    return redirect(url_for("console_auth.login"))
