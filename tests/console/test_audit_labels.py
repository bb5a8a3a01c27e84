"""The audit log speaks Japanese: every action the code records has a label, and so does its detail."""
from __future__ import annotations

import re
from pathlib import Path

from bot.console.labels import ACTIONS, action_label, detail_label


BOT = Path(__file__).resolve().parents[2] / "bot"


def recorded_actions() -> set[str]:
    """Every action name written by an audit(...) call in the code."""
    found = set()
    for path in BOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"\.audit\([^,]+,\s*\"([a-z_]+)\"", text))
        found |= {"returned", "closed"} if "audit(operator, how" in text else set()
        found |= {"claimed", "took_over"} if '"took_over" if' in text else set()
    return found


def test_every_recorded_action_has_a_japanese_label():
    actions = recorded_actions()
    assert {"logged_in", "viewed", "replied", "requested", "deleted"} <= actions
    assert actions <= set(ACTIONS), actions - set(ACTIONS)
    assert all(re.search(r"[ぁ-んァ-ヶ一-龯]", label) for label in ACTIONS.values())


def test_details_are_translated_and_unknown_ones_kept():
    assert detail_label("requested", "priority 2") == "優先度: 危機"
    assert detail_label("took_over", "from alice") == "aliceさんから"
    assert detail_label("alert", "danger") == "危険"
    assert detail_label("deleted", "the person blocked the bot") == "相談者がブロックしたため"
    assert detail_label("noted", None) == ""
    assert action_label("something_new") == "something_new"

