"""The terminal chat and the simulator go through the same dispatcher and desk as LINE."""
from __future__ import annotations

from werkzeug.security import generate_password_hash

from .console.conftest import PASSWORDS, login, post

WEEKDAY_MORNING = "2026-11-24T11:00+09:00"  # staff hours


def test_the_chat_queues_a_real_request_and_understands_back_to_the_bot(app):
    """Before: 「前に0人」 while nothing was queued, then 「うまく読み取れませんでした」."""
    store = app.extensions["bot"].store
    seen = []

    def watch_queue(_prompt: str = "") -> str:
        seen.append(len(store.handoffs.queue()))
        return inputs.pop(0)

    inputs = ["人と話したい", "1", "まだですか", "ボットに戻る", "quit"]
    import builtins
    real_input = builtins.input
    builtins.input = watch_queue
    try:
        result = app.test_cli_runner().invoke(args=["chat", "--at", WEEKDAY_MORNING])
    finally:
        builtins.input = real_input
    out = result.output
    assert result.exit_code == 0, out
    assert "前に0人、約10分です。" in out
    assert seen[2] == 1  # the request was really in the queue
    assert "まだお待ちください（前に0人）。" in out
    assert "取り消しました。" in out and "うまく読み取れませんでした" not in out
    assert store.handoffs.queue() == []


def test_a_simulator_handoff_reaches_the_console_and_staff_replies_come_back(make_app):
    app = make_app(LINE_CHANNEL_SECRET=None, LINE_CHANNEL_ACCESS_TOKEN=None)
    store = app.extensions["bot"].store
    store.operators.create("alice", generate_password_hash(PASSWORDS["alice"]))
    editor = app.test_client()

    def turn(**body):
        return editor.post("/simulator/api/turn", json={"at": WEEKDAY_MORNING, **body}).get_json()

    turn(kind="follow")
    asked = turn(kind="text", text="人と話したい")
    yes = next(b for b in asked["buttons"] if b["label"] == "つなぐ")
    waiting = turn(kind="button", data=yes["data"], text=yes["text"])
    assert waiting["messages"] == ["前に0人、約10分です。"]
    queue = store.handoffs.queue()
    assert len(queue) == 1 and queue[0].conv_key.startswith("local:")

    alice = login(app, "alice")
    page = f"/console/c/{queue[0].id}"
    assert "人と話したい" in alice.get(page).get_data(as_text=True)  # the transcript
    post(alice, f"{page}/claim", page)
    silent = turn(kind="text", text="よろしくお願いします")
    assert silent["messages"] == []  # staff have it: the bot says nothing
    post(alice, f"{page}/reply", page, text="スタッフの田中です。")
    arrived = editor.get(f"/simulator/api/messages?after={silent['last']}").get_json()
    assert arrived["messages"] == ["スタッフの田中です。"]
    post(alice, f"{page}/returned", page)
    back = editor.get(f"/simulator/api/messages?after={arrived['last']}").get_json()
    assert back["messages"][0] == "スタッフから戻りました。"
