"""Diagrams drawn from the flows: the README's cannot drift, SVG comes from Graphviz."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot import config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def real_app(make_app):
    return make_app(FLOWS_DIR=config.DEFAULTS["FLOWS_DIR"])


def test_readme_shows_the_main_flow_as_drawn_now(real_app):
    drawn = real_app.test_cli_runner().invoke(args=["diagram", "main"])
    assert drawn.exit_code == 0
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- diagram:main -->\n```mermaid\n(.*?)```\n<!-- /diagram:main -->",
                      readme, re.S)
    assert block, "README.md lost its diagram section"
    assert block.group(1) == drawn.output, "README diagram is stale: python scripts/update_readme.py"


def test_mermaid_has_every_state_and_transition(real_app):
    out = real_app.test_cli_runner().invoke(args=["diagram"]).output
    assert out.startswith("stateDiagram-v2\n")
    assert "[*] --> start" in out
    assert "age --> friend_note: 18歳未満 [audience=friend]" in out
    assert "friend_note --> what: (auto)" in out
    assert "anywhere --> all_windows: 相談窓口" in out
    assert "windows --> start: 最初から" in out
    assert "windows --> handoff: スタッフと話したい" in out
    assert "anywhere --> deletion: データを削除" in out
    states = set(real_app.extensions["bot"].engine.spec.states)
    drawn = set(re.findall(r"^  (\w+) -->", out, re.M)) | set(re.findall(r"--> (\w+):", out))
    assert states <= drawn


def test_a_changed_flow_changes_the_drawing(make_app, workspace):
    workspace.edit("flows/main.yaml", "label: 法律のこと, words: [法律], to: legal_more}",
                   "label: 法律について, words: [法律], to: legal_more}")
    app = make_app(**workspace.config)
    assert "advice --> legal_more: 法律について" in app.test_cli_runner().invoke(args=["diagram"]).output


def test_unknown_flow_is_named(real_app):
    result = real_app.test_cli_runner().invoke(args=["diagram", "mian"])
    assert result.exit_code != 0 and "no flow named 'mian'; flows: main" in result.output


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed "
                    "(apt-get install graphviz); .ci/run installs it")
def test_svg_is_drawn_by_graphviz(real_app, tmp_path):
    out = tmp_path / "main.svg"
    result = real_app.test_cli_runner().invoke(args=["diagram", "main", "--format", "svg",
                                                     "--out", str(out)])
    assert result.exit_code == 0, result.output
    svg = out.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "friend_note" in svg and "合う相談窓口を見る" in svg


def test_svg_without_graphviz_says_how_to_get_it(real_app, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no dot on it
    result = real_app.test_cli_runner().invoke(args=["diagram", "main", "--format", "svg",
                                                     "--out", str(tmp_path / "x.svg")])
    assert result.exit_code != 0
    assert "apt-get install graphviz" in result.output and "--format mermaid" in result.output
    assert not (tmp_path / "x.svg").exists()
