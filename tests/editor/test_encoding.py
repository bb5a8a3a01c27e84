"""Content that is not UTF-8, or has a character YAML forbids: file:line, and the server stays up."""
from __future__ import annotations

import pytest

from bot.channels.line.plain import message_text

from ..helpers import wait_until
from ..line_fake import REPLY, LineUser


def shift_jis(workspace, name: str) -> int:
    """Save a content file as Shift_JIS, as a Windows editor might; return its first non-ASCII line."""
    path = workspace.root / name
    text = path.read_text("utf-8")
    path.write_bytes(text.encode("shift_jis", "replace"))
    return next(i for i, line in enumerate(text.splitlines(), 1) if not line.isascii())


def control_char(workspace, name: str) -> int:
    path = workspace.root / name
    text = path.read_text("utf-8").replace("こんにちは。", "こんにちは。\x07", 1)
    path.write_text(text, "utf-8")
    return workspace.line_of(name, "\x07")


@pytest.mark.parametrize("breaks, message", [
    (shift_jis, "the file is not UTF-8"),
    (control_char, "character U+0007 is not allowed"),
])
def test_a_broken_file_at_boot_is_reported_and_the_server_starts(make_app, workspace, breaks,
                                                                   message):
    line = breaks(workspace, "flows/main.yaml")
    app = make_app(**workspace.config)  # raised UnicodeDecodeError / ReaderError before
    errors = [str(e) for e in app.extensions["bot"].content_errors]
    assert any(e.startswith(f"flows/main.yaml:{line}:") and message in e for e in errors), errors
    result = app.test_cli_runner().invoke(args=["validate"])
    assert result.exit_code == 1 and message in result.output
    assert app.test_client().post("/callback", data=b"{}",
                                  headers={"X-Line-Signature": "x"}).status_code == 400


def test_a_broken_edit_while_running_keeps_the_previous_content(make_app, workspace, line_api):
    app = make_app(RELOAD_SECONDS=0.2, **workspace.config)
    app.extensions["bot"].start()
    services = app.extensions["bot"]
    line = shift_jis(workspace, "contacts.yaml")
    assert wait_until(lambda: services.content_errors)
    assert [str(e) for e in services.content_errors][0].startswith(f"contacts.yaml:{line}:")
    user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
    user.post(user.follow())
    assert message_text(line_api.wait_for(REPLY, 1)[0][0]["messages"][0]).startswith("こんにちは。")
