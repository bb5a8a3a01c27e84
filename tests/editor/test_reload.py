"""Edits go live within seconds without a restart; broken edits never do."""
from __future__ import annotations

import logging

from bot.channels.line.plain import message_text

from ..helpers import wait_until
from ..line_fake import REPLY, LineUser

NEW_GREETING = "こんにちは。案内の文面を新しくしました。"


def live_app(make_app, workspace):
    app = make_app(RELOAD_SECONDS=0.2, **workspace.config)
    app.extensions["bot"].start()
    return app


def greeting_for(app, line_api, user_id: str) -> str:
    user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"], user_id=user_id)
    count = len(line_api.requests(REPLY))
    user.post(user.follow())
    return message_text(line_api.wait_for(REPLY, count + 1)[count][0]["messages"][0])


def test_an_edit_goes_live_within_seconds(make_app, workspace, line_api):
    app = live_app(make_app, workspace)
    assert greeting_for(app, line_api, "U" + "1" * 32).startswith("こんにちは。ネットでの悪口")
    workspace.edit("flows/main.yaml", "  greeting: |-\n    こんにちは。ネットでの悪口やさらし、つきまといなどで困っている方に、今できることと相談窓口をご案内します。",
                   f"  greeting: |-\n    {NEW_GREETING}")
    services = app.extensions["bot"]
    assert wait_until(lambda: services.engine.spec.messages["greeting"].startswith(NEW_GREETING))
    assert greeting_for(app, line_api, "U" + "2" * 32).startswith(NEW_GREETING)


def test_a_broken_edit_is_refused_and_the_previous_version_stays(make_app, workspace, line_api, caplog):
    caplog.set_level(logging.ERROR)
    app = live_app(make_app, workspace)
    services = app.extensions["bot"]
    workspace.edit("contacts.yaml", "mon-fri: 09:00-21:00", "mon-fri: 9時から21時")
    assert wait_until(lambda: services.content_errors)
    line = workspace.line_of("contacts.yaml", "9時から21時")
    assert [str(e) for e in services.content_errors] == [
        f"contacts.yaml:{line}: hours: '9時から21時' is not a time range such as 08:30-17:15"]
    assert f"contacts.yaml:{line}: hours" in caplog.text
    assert greeting_for(app, line_api, "U" + "3" * 32).startswith("こんにちは。ネットでの悪口")
    workspace.edit("contacts.yaml", "mon-fri: 9時から21時", "mon-fri: 09:00-21:00")
    assert wait_until(lambda: not services.content_errors)


def test_a_conversation_in_a_removed_state_restarts_with_an_apology(make_app, workspace, line_api):
    app = live_app(make_app, workspace)
    user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
    user.post(user.follow())
    user.post(user.text("自分"))
    line_api.wait_for(REPLY, 2)
    assert app.extensions["bot"].store.load(f"line:{user.user_id}").state == "age"
    workspace.edit("flows/main.yaml", "to: age}", "to: what}")
    workspace.edit("flows/main.yaml", "  age:\n", "  age_question:\n")
    workspace.edit("flows/main.yaml", "to: age}", "to: age_question}")
    workspace.edit("flows/main.yaml", "        to: age\n", "        to: age_question\n")
    services = app.extensions["bot"]
    assert wait_until(lambda: "age_question" in services.engine.spec.states)
    user.post(user.text("18歳以上"))
    texts = [message_text(m) for m in line_api.wait_for(REPLY, 3)[2][0]["messages"]]
    assert texts[0] == "ごめんなさい、案内の内容が新しくなったため、はじめからうかがいます。"
    assert texts[-1] == "どなたが困っていますか？"


def test_under_flask_run_the_first_request_starts_the_watcher(make_app, workspace):
    app = make_app(RELOAD_SECONDS=0.2, LINE_CHANNEL_SECRET=None, LINE_CHANNEL_ACCESS_TOKEN=None,
                   **workspace.config)
    client = app.test_client()
    client.get("/simulator")  # an editor opens the simulator; no webhook ever arrives
    workspace.edit("flows/main.yaml", "どなたが困っていますか？", "どなたのご相談ですか？")
    services = app.extensions["bot"]
    assert wait_until(lambda: services.engine.spec.states["start"].say[0].text == "どなたのご相談ですか？")
    view = client.post("/simulator/api/turn", json={"kind": "follow"}).get_json()
    assert "どなたのご相談ですか？" in view["messages"]
