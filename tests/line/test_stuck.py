"""Answers that do not get through are shown to staff: Slack once, and the console's queue."""
from __future__ import annotations

from pytest_httpserver import HTTPServer
from werkzeug import Response
from werkzeug.security import generate_password_hash

from ..console.conftest import PASSWORDS, login
from ..helpers import wait_until
from ..line_fake import PUSH, REPLY, LineUser


def test_stuck_answers_alert_staff_and_show_in_the_console(make_app, line_api):
    slack = HTTPServer(host="127.0.0.1", port=0)
    slack.start()
    heard: list[dict] = []
    slack.expect_request("/hook", method="POST").respond_with_handler(
        lambda r: heard.append(r.get_json()) or Response("ok"))
    try:
        app = make_app(SLACK_WEBHOOK_URL=slack.url_for("/hook"), STUCK_ALERT_SECONDS=0.5,
                       RETRY_MAX_SECONDS=0.2)
        app.extensions["bot"].store.operators.create(
            "alice", generate_password_hash(PASSWORDS["alice"]))
        line_api.behaviour[REPLY] = lambda b: (500, {"message": "down"})
        line_api.behaviour[PUSH] = lambda b: (500, {"message": "down"})
        user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
        secret_words = "だれにも言えない"
        user.post(user.follow(), user.text(secret_words))
        assert wait_until(lambda: heard, timeout=10)
        assert "しばらく相談者に届いていません" in heard[0]["text"]
        assert secret_words not in str(heard) and user.user_id not in str(heard)
        page = login(app, "alice").get("/console").get_data(as_text=True)
        assert 'id="stuck"' in page and "相談者 #" in page and user.user_id not in page
        assert len(heard) == 1  # told once, not on every retry
        del line_api.behaviour[PUSH]
        del line_api.behaviour[REPLY]
        assert wait_until(lambda: len(line_api.delivered()) == 2, timeout=10)
        assert 'id="stuck"' not in login(app, "alice").get("/console").get_data(as_text=True)
    finally:
        slack.stop()
