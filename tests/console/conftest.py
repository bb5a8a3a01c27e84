"""A bot with the shipped content, two operators, and a person on LINE at staff hours."""
from __future__ import annotations

import re
import threading
import time
from datetime import datetime

import pytest
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from bot import config
from bot.channels.line.plain import message_text
from bot.clock import JST

from ..line_fake import PUSH, REPLY, LineUser

PASSWORDS = {"alice": "alice-long-password", "bob": "bob-long-password-2"}
STAFF_HOURS = datetime(2026, 11, 24, 11, 0, tzinfo=JST)   # a Tuesday
AFTER_HOURS = datetime(2026, 11, 23, 11, 0, tzinfo=JST)   # a national holiday


@pytest.fixture
def bot(make_app, request):
    chat_mode = bool(getattr(request, "param", False))  # parametrize indirect=True for chat mode
    app = make_app(FLOWS_DIR=config.DEFAULTS["FLOWS_DIR"], DISPATCH_POLL_SECONDS=0.1,
                   LINE_CHAT_MODE=chat_mode)
    for name, password in PASSWORDS.items():
        app.extensions["bot"].store.operators.create(name, generate_password_hash(password))
    app.extensions["bot"].desk.clock = lambda: STAFF_HOURS  # staff act when the person writes
    return app


def csrf_token(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(app, name: str, ip: str = "127.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    token = csrf_token(client, "/console/login")
    resp = client.post("/console/login", data={"name": name, "password": PASSWORDS[name],
                                               "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def post(client, path: str, page: str, **data):
    """POST a console form the way the browser does: with the page's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def claimed(app, name: str = "alice"):
    """Log in as `name` and claim the first waiting conversation; return (client, its page)."""
    client = login(app, name)
    handoff_id = app.extensions["bot"].store.handoffs.queue()[0].id
    page = f"/console/c/{handoff_id}"
    assert post(client, f"{page}/claim", page).status_code == 302
    return client, page


class Person:
    """Someone on LINE, with a clock set to a chosen moment."""

    def __init__(self, app, line_api, at: datetime, user_id: str = "U" + "5" * 32):
        self.line = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"], user_id=user_id)
        self.line.clock = int(at.timestamp() * 1000)
        self.api, self.key = line_api, f"line:{user_id}"

    def sent(self) -> int:
        return len(self.api.requests(REPLY)) + len(self.api.requests(PUSH))

    def send(self, event: dict) -> list[str]:
        """Post an event; return the texts of the bot's reply to it (matched by reply token)."""
        self.line.post(event)
        deadline = time.time() + 10
        while time.time() < deadline:
            for body, _ in self.api.requests(REPLY):
                if body["replyToken"] == event["replyToken"]:
                    self.last = body
                    return [message_text(m) for m in body["messages"]]
            time.sleep(0.02)
        raise AssertionError(f"no reply to {event['type']} event")

    def says(self, text: str) -> list[str]:
        return self.send(self.line.text(text))

    def taps(self, label: str) -> list[str]:
        items = self.last["messages"][-1]["quickReply"]["items"]
        data = next(i["action"]["data"] for i in items if i["action"]["label"] == label)
        return self.send(self.line.tap(data))

    def asks_for_staff(self) -> list[str]:
        self.send(self.line.follow())
        self.says("自分のことです")
        assert self.says("人と話したい")[0].startswith("スタッフ（人）とのやり取りに切り替えますか？")
        return self.taps("切り替える")


@pytest.fixture
def person(bot, line_api):
    return Person(bot, line_api, STAFF_HOURS)


@pytest.fixture
def console_url(bot):
    """The app served on a free port, with its workers running, for a real browser."""
    bot.extensions["bot"].start()
    server = make_server("127.0.0.1", 0, bot, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
