"""Operators see no LINE display name or picture unless the service is configured to show it."""
from __future__ import annotations

from bot import config

from ..helpers import wait_until
from ..line_fake import PROFILE
from .conftest import STAFF_HOURS, Person, login


def test_no_profile_is_fetched_or_shown_by_default(bot, line_api, person):
    person.asks_for_staff()
    page = login(bot, "alice").get("/console").get_data(as_text=True)
    assert line_api.requests(PROFILE) == []
    assert "山田花子" not in page and "相談者 #" in page


def test_display_name_is_shown_when_configured(make_app, line_api):
    from werkzeug.security import generate_password_hash

    app = make_app(FLOWS_DIR=config.DEFAULTS["FLOWS_DIR"], CONSOLE_SHOW_PROFILE=True)
    app.extensions["bot"].store.operators.create("alice", generate_password_hash("alice-long-password"))
    someone = Person(app, line_api, STAFF_HOURS)
    someone.asks_for_staff()
    assert wait_until(lambda: app.extensions["bot"].store.handoffs.queue()[0].display_name)
    assert len(line_api.requests(PROFILE)) == 1  # fetched after the decision, from the outbox
    page = login(app, "alice").get("/console").get_data(as_text=True)
    assert "山田花子" in page and "https://profile.example/picture" not in page
