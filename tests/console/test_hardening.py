"""The console against a browser that attacks it (OWASP ASVS L1): headers, sessions, logins."""
from __future__ import annotations

import re
import threading
import time

import pytest
from werkzeug.serving import make_server
from werkzeug.security import generate_password_hash

from bot import config
from bot.console import auth
from bot.store.schema import console_sessions

from .conftest import PASSWORDS, csrf_token, login, post


def idle_for(app, minutes: float) -> None:
    with app.extensions["bot"].store.engine.begin() as conn:
        conn.execute(console_sessions.update().values(seen_at=time.time() - minutes * 60))


def seen_at(app) -> float:
    with app.extensions["bot"].store.engine.connect() as conn:
        return conn.execute(console_sessions.select()).first().seen_at


@pytest.mark.parametrize("path", ["/console/login", "/console", "/console/audit"])
def test_every_page_carries_the_security_headers(bot, path):
    resp = login(bot, "alice").get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_no_page_has_inline_script_or_handlers(bot, person):
    person.asks_for_staff()
    alice = login(bot, "alice")
    hid = bot.extensions["bot"].store.handoffs.queue()[0].id
    for path in ("/console/login", "/console", f"/console/c/{hid}", "/console/audit"):
        html = alice.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+\s*=", html), path


def test_an_operator_name_cannot_inject_script(make_app, line_api, browser):
    from .conftest import STAFF_HOURS, Person

    app = make_app(FLOWS_DIR=config.DEFAULTS["FLOWS_DIR"])
    store = app.extensions["bot"].store
    evil = "x'+alert(1)+'"
    store.operators.create(evil, generate_password_hash("evil-long-password"))
    store.operators.create("alice", generate_password_hash(PASSWORDS["alice"]))
    Person(app, line_api, STAFF_HOURS).asks_for_staff()
    handoff = store.handoffs.queue()[0]
    app.extensions["bot"].desk.claim(handoff, evil)
    app.extensions["bot"].start()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append((d.type, d.message)), d.dismiss()))
        url = f"http://127.0.0.1:{server.server_port}"
        page.goto(f"{url}/console/login")
        page.fill('input[name="name"]', "alice")
        page.fill('input[name="password"]', PASSWORDS["alice"])
        page.click('button[type="submit"]')
        page.goto(f"{url}/console/c/{handoff.id}")
        page.locator("#takeover").click()
        page.wait_for_timeout(300)
        assert dialogs == [("confirm", f"{evil}さんから引き継ぎますか？（記録に残ります）")]
        assert store.handoffs.get(handoff.id).claimed_by == evil  # dismissed: nothing taken
    finally:
        server.shutdown()


def test_the_session_cookie_is_secure_samesite_and_httponly(make_app):
    assert config.from_environment({"SESSION_COOKIE_SECURE": "true"})["SESSION_COOKIE_SECURE"] is True
    app = make_app(SESSION_COOKIE_SECURE=True)
    app.extensions["bot"].store.operators.create("alice", generate_password_hash(PASSWORDS["alice"]))
    client = app.test_client()
    token = csrf_token(client, "/console/login")
    resp = client.post("/console/login", data={"name": "alice", "password": PASSWORDS["alice"],
                                               "csrf_token": token})
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "SameSite=Lax" in cookie and "HttpOnly" in cookie


def test_with_a_line_channel_the_cookie_is_secure_by_default(tmp_path, test_flows):
    from bot import create_app

    app = create_app({"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                      "FLOWS_DIR": str(test_flows)})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_logout_ends_the_session_for_every_copy_of_the_cookie(bot):
    alice = login(bot, "alice")
    copy = bot.test_client()
    cookie = alice.get_cookie("session")
    copy.set_cookie("session", cookie.value)
    assert copy.get("/console").status_code == 200  # the stolen copy works ...
    post(alice, "/console/logout", "/console")
    assert copy.get("/console").status_code == 302  # ... until the operator logs out


def test_polling_does_not_keep_an_idle_session_alive(bot):
    alice = login(bot, "alice")
    idle_for(bot, 29)
    before = seen_at(bot)
    assert alice.get("/console/api/queue").status_code == 200
    assert seen_at(bot) == before  # the page's own polling is not activity
    idle_for(bot, 31)
    assert alice.get("/console/api/queue").status_code == 302


def test_failures_from_one_address_do_not_lock_out_the_operator_elsewhere(bot):
    attacker = bot.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(6):
        token = csrf_token(attacker, "/console/login")
        attacker.post("/console/login", data={"name": "alice", "password": "guess",
                                              "csrf_token": token})
    token = csrf_token(attacker, "/console/login")
    assert attacker.post("/console/login", data={"name": "alice", "password": PASSWORDS["alice"],
                                                 "csrf_token": token}).status_code == 429
    assert login(bot, "alice", ip="198.51.100.7")  # the real alice, from her desk


def test_behind_a_proxy_each_client_is_counted_apart(make_app):
    app = make_app(PROXY_FIX_X_FOR=1)
    app.extensions["bot"].store.operators.create("alice", generate_password_hash(PASSWORDS["alice"]))
    attacker = app.test_client()
    for _ in range(6):
        token = csrf_token(attacker, "/console/login")
        attacker.post("/console/login", data={"name": "alice", "password": "guess",
                                              "csrf_token": token},
                      headers={"X-Forwarded-For": "203.0.113.9"})
    alice = app.test_client()
    token = csrf_token(alice, "/console/login")
    resp = alice.post("/console/login", data={"name": "alice", "password": PASSWORDS["alice"],
                                              "csrf_token": token},
                      headers={"X-Forwarded-For": "198.51.100.7"})
    assert resp.status_code == 302  # same proxy address, different client: not locked out


def test_a_lockout_is_a_short_backoff(bot, monkeypatch):
    monkeypatch.setattr(auth, "BACKOFF", 0.5)
    client = bot.test_client()
    for _ in range(5):
        token = csrf_token(client, "/console/login")
        client.post("/console/login", data={"name": "alice", "password": "guess", "csrf_token": token})
    token = csrf_token(client, "/console/login")
    right = {"name": "alice", "password": PASSWORDS["alice"], "csrf_token": token}
    assert client.post("/console/login", data=right).status_code == 429
    time.sleep(0.6)
    right["csrf_token"] = csrf_token(client, "/console/login")
    assert client.post("/console/login", data=right).status_code == 302


def test_an_unknown_name_costs_a_password_hash_too(bot, monkeypatch):
    checked = []
    real = auth.check_password_hash
    monkeypatch.setattr(auth, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    client = bot.test_client()
    token = csrf_token(client, "/console/login")
    assert client.post("/console/login", data={"name": "nobody", "password": "x" * 12,
                                               "csrf_token": token}).status_code == 401
    assert len(checked) == 1 and checked[0].startswith("scrypt:")


def test_the_simulators_password_is_rate_limited(make_app):
    import base64

    app = make_app(SIMULATOR="on", SIMULATOR_PASSWORD="s3cret-words")
    client = app.test_client()
    wrong = {"Authorization": "Basic " + base64.b64encode(b"editor:guess").decode()}
    assert [client.get("/simulator", headers=wrong).status_code for _ in range(5)] == [401] * 5
    right = {"Authorization": "Basic " + base64.b64encode(b"editor:s3cret-words").decode()}
    assert client.get("/simulator", headers=right).status_code == 429
