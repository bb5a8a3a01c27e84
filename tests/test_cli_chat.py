"""The terminal chat: the first thing a newcomer and a content editor try."""
from __future__ import annotations


def test_chat_shows_numbered_buttons_and_takes_numbers_or_words(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["chat", "--at", "2026-11-23T10:00+09:00"],
                           input="2\nネットで悪口を書かれた\n戻る\nquit\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "テスト用のあいさつです。" in out
    assert "[1] 自分  [2] 友人・家族" in out
    assert "ご本人からの相談が必要な窓口もあります。" in out  # 2 chose 友人・家族
    assert out.index("悪口の件ですね。") < out.rindex("何がありましたか？")  # 戻る went back


def test_chat_rejects_a_bad_time(app):
    result = app.test_cli_runner().invoke(args=["chat", "--at", "tomorrow"])
    assert result.exit_code != 0
    assert "ISO-8601" in result.output
