"""Editors' stories run in CI, and a failing one says the step, the expectation and the reply."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot import config
from bot.stories import read_story, run_story, unknown_windows

STORIES = sorted((Path(__file__).resolve().parents[2] / "stories").glob("*.yaml"))


def test_the_shipped_stories_cover_the_main_paths_safety_and_holidays():
    names = " ".join(p.stem for p in STORIES)
    for part in ("self_defamation", "guardian", "friend", "stalking", "crisis", "danger", "holiday",
                 "threat_delete", "identify", "partner", "child_images", "line_group", "sextortion"):
        assert part in names


@pytest.mark.parametrize("path", STORIES, ids=[p.stem for p in STORIES])
def test_story(path, request):
    from bot.content import load_content

    content = load_content(config.DEFAULTS)
    engine = content.engine
    story, errors = read_story(path)
    assert errors == [] and story is not None
    assert unknown_windows(story, {c.id for c in content.directory.all}) == []
    failures = run_story(engine, story)
    assert not failures, "\n\n".join(map(str, failures))


def test_a_failing_story_shows_step_expectation_and_reply(make_app, workspace, tmp_path):
    story = tmp_path / "wrong.yaml"
    story.write_text("""story: 期待がまちがっている
at: 2026-11-24T10:00+09:00
steps:
  - follow: true
  - tap: 自分のこと
    expect:
      state: what
      windows: [yorisoi]
      order: [police_110]
  - tap: ありえないボタン
""", encoding="utf-8")
    app = make_app(**workspace.config)
    result = app.test_cli_runner().invoke(args=["stories", str(story)])
    assert result.exit_code == 1
    out = result.output
    assert f"{story}:5: step 2 (tap '自分のこと')" in out
    assert "expected state 'what', got 'age'" in out
    assert "expected windows ['yorisoi'] listed; listed were []" in out
    assert "    | 被害にあっている方は、18歳未満ですか？" in out
    assert "expected the first windows listed to be ['police_110']; listed were []" in out
    assert f"{story}:10: step 3 (tap 'ありえないボタン')" in out
    assert "expected a button 'ありえないボタン' to tap; offered were ['18歳未満', '18歳以上', 'わからない']" in out
    assert out.rstrip().endswith("0 passed, 1 failed")


def test_stories_command_runs_every_story_by_default(make_app, workspace):
    app = make_app(**workspace.config)
    result = app.test_cli_runner().invoke(args=["stories"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(f"{len(STORIES)} passed, 0 failed")


BROKEN = {  # a story an editor got wrong: its text, and the one line that says so
    "unknown key": ("steps:\n  - follow: true\n  - tap: 自分のこと\n    expct: {state: age}\n",
                    "stories/broken.yaml:4: unknown key 'expct' in a step; allowed: at, expect, "
                    "follow, say, tap"),
    # no_windows: true listed no window id, so it checked nothing and always passed
    "expectation that could never fail": (
        "steps:\n  - follow: true\n  - say: hello\n    expect: {no_windows: true}\n",
        "stories/broken.yaml:3: expect 'no_windows' takes a text or a list of texts, not True "
        "(a number is a text in quotes: '110')"),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_a_broken_story_is_reported_at_its_line(tmp_path, case):
    text, message = BROKEN[case]
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    story, errors = read_story(path, "stories/broken.yaml")
    assert story is None
    assert [str(e) for e in errors] == [message]


def test_a_window_id_no_window_has_is_reported(make_app, workspace, tmp_path):
    """no_windows: [sakura_citty] (a typo) passed for ever: no such window is ever listed."""
    story = tmp_path / "typo.yaml"
    story.write_text("steps:\n  - follow: true\n  - say: 死にたい\n"
                     "    expect: {no_windows: [sakura_citty], windows: [yorisoi]}\n", encoding="utf-8")
    app = make_app(**workspace.config)
    result = app.test_cli_runner().invoke(args=["stories", str(story)])
    assert result.exit_code == 1
    assert f"{story}:3: window 'sakura_citty' is not a window of contacts.yaml" in result.output
