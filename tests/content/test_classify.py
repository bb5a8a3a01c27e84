"""The keyword rules on realistic messages; the safety signals may never be missed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.engine.classify import Classifier, read_rules

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def cases(name: str) -> list[dict]:
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="module")
def classify() -> Classifier:
    rules, errors = read_rules(ROOT / "keywords.yaml")
    assert errors == []
    return Classifier(rules)


def test_the_table_is_large_enough():
    assert len(cases("classify_cases.yaml")) >= 60


@pytest.mark.parametrize("case", cases("classify_cases.yaml"), ids=lambda c: c["text"])
def test_tuning_set_is_read_as_expected(classify, case):
    got = classify(case["text"]).as_json()
    assert {k: got[k] for k in ("topic", "want", "danger", "crisis")} == \
        {k: case[k] for k in ("topic", "want", "danger", "crisis")}


@pytest.mark.parametrize("case", cases("classify_cases.yaml") + cases("classify_holdout.yaml"),
                         ids=lambda c: c["text"])
def test_danger_and_crisis_are_never_missed_nor_invented(classify, case):
    got = classify(case["text"])
    assert (got.danger, got.crisis) == (case["danger"], case["crisis"])


def test_several_signals_in_one_message_all_count(classify):
    got = classify("中学生の娘がインスタで悪口を書かれて消したい").as_json()
    assert got == {"topic": "defamation", "want": "delete", "audience": "guardian",
                   "flags": ["child"], "danger": False, "crisis": False,
                   "matched": ["audience_guardian", "flag_child", "topic_defamation", "want_delete"]}


@pytest.mark.parametrize("text", ["ｽﾄｰｶｰされてる", "ストーカーされてる", "すとーかーされてる",
                                  "ストーカー　されてる！"])
def test_width_kana_and_punctuation_do_not_matter(classify, text):
    assert classify(text).as_json()["topic"] == "stalking"


def test_classify_command_prints_one_json_object(app):
    result = app.test_cli_runner().invoke(args=["classify", "家に来るって言われて怖い"])
    assert result.exit_code == 0
    out = json.loads(result.output)
    assert out["danger"] is True and out["crisis"] is False and out["topic"] == "stalking"
    assert out["want"] is None and out["audience"] is None  # a feeling is not a wish
    assert "danger_nearby" in out["matched"]


def test_readme_reports_the_accuracy_measured_now():
    import importlib.util
    spec = importlib.util.spec_from_file_location("acc", ROOT / "scripts" / "classify_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.summary() in (ROOT / "README.md").read_text(encoding="utf-8"), \
        "README's accuracy table is stale: paste `python scripts/classify_accuracy.py`"
