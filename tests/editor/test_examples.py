"""Editors' examples: each mistake reported at its line; the model learns from an edit; the report."""
from __future__ import annotations

import json

import pytest

from .test_validate import validate

CRISIS = "examples/crisis.yaml"
TOPIC = "examples/topic.yaml"


def test_a_hard_negative_a_sure_rule_fires_on_is_an_error_at_its_line(make_app, workspace):
    workspace.edit(CRISIS, '  not_crisis:\n', '  not_crisis:\n    - "もう死にたい"\n')
    code, lines = validate(make_app, workspace, "--today", "2026-11-22")
    line = workspace.line_of(CRISIS, '    - "もう死にたい"\n')
    assert code == 1
    assert any(l.startswith(f"{CRISIS}:{line}: 'もう死にたい' is listed as not_crisis, but rule "
                            "'crisis_sure' (keywords.yaml:") for l in lines), lines


def test_a_message_under_two_labels_is_an_error(make_app, workspace):
    workspace.edit(TOPIC, "  other:\n", '  other:\n    - "インスタで悪口を書かれた"\n')
    workspace.edit(TOPIC, "  defamation:\n", '  defamation:\n    - "インスタで悪口を書かれた"\n')
    code, lines = validate(make_app, workspace, "--today", "2026-11-22")
    line = workspace.line_of(TOPIC, '  other:\n    - "インスタで悪口を書かれた"') + 1
    assert code == 1
    assert any(l.startswith(f"{TOPIC}:{line}: 'インスタで悪口を書かれた' is listed under 'other' and "
                            "under 'defamation'") for l in lines), lines


def test_a_label_with_too_few_examples_is_an_error(make_app, workspace):
    path = workspace.root / "examples" / "want.yaml"
    lines_in = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines_in.index("  talk:\n")
    end = next(i for i in range(start + 1, len(lines_in)) if not lines_in[i].startswith("    - "))
    path.write_text("".join(lines_in[:start + 4] + lines_in[end:]), encoding="utf-8")
    code, lines = validate(make_app, workspace, "--today", "2026-11-22")
    assert code == 1
    assert "examples/want.yaml:1: label 'talk' of want has 3 examples; the model needs at least 8" \
        in lines


@pytest.mark.parametrize("bad,message", [
    ("field: topic", "field 'topics' is not one the model learns"),
    ("accept: 0.5", "accept must be a number above 0 and at most 1")])
def test_a_broken_examples_file_says_what_is_allowed(make_app, workspace, bad, message):
    new = {"field: topic": "field: topics", "accept: 0.5": "accept: 1.5"}[bad]
    workspace.edit(TOPIC, bad, new)
    code, lines = validate(make_app, workspace, "--today", "2026-11-22")
    assert code == 1 and any(l.startswith(f"{TOPIC}:") and message in l for l in lines), lines


def test_an_example_teaches_the_model_at_the_next_load(make_app, workspace):
    text = "ｶﾞﾁﾎﾟﾝｺﾂ言われてｽﾞｯﾄ草"
    before = make_app(**workspace.config).test_cli_runner().invoke(args=["classify", text])
    assert json.loads(before.output)["model"]["topic"]["label"] != "account"
    examples = "".join(f'    - "{text}{n}"\n' for n in range(40))
    workspace.edit(TOPIC, "  account:\n", "  account:\n" + examples)
    after = make_app(**workspace.config).test_cli_runner().invoke(args=["classify", text])
    assert json.loads(after.output)["model"]["topic"]["label"] == "account"


def test_crossvalidate_reports_labels_confusions_and_where_they_are(make_app, workspace):
    result = make_app(**workspace.config).test_cli_runner().invoke(
        args=["crossvalidate", "--folds", "3"])
    assert result.exit_code == 0, result.output
    out = result.output
    for field in ("topic", "want", "audience", "crisis", "danger"):
        assert f"{field}: " in out and "3-fold" in out
    assert "precision" in out and "recall" in out and "worst confusions:" in out
    assert "caught only as possible (the bot asks):" in out
    assert "examples/topic.yaml:" in out  # each confusion names its examples' lines
    assert "examples the rules read otherwise:" in out
