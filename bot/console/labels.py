"""The audit log and safety detections in the operators' language (Japanese)."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ..clock import JST

ACTIONS = {
    "logged_in": "ログイン", "logged_out": "ログアウト", "viewed": "閲覧",
    "requested": "スタッフへの取り次ぎ依頼", "cancelled": "取り次ぎの取り消し（相談者）",
    "alert": "危険・危機の言葉", "claimed": "対応開始", "took_over": "引き継ぎ",
    "replied": "返信", "resent": "再送", "noted": "メモ", "returned": "ボットに戻した",
    "closed": "終了", "deleted": "データ削除",
}
PRIORITIES = {"0": "通常", "1": "危険", "2": "危機"}
ALERT_KINDS = {"danger": "危険", "crisis": "危機", "medical": "救急"}
DELETION_REASONS = {"the person blocked the bot": "相談者がブロックしたため",
                    "at the person's request": "相談者の希望により"}


def action_label(action: str) -> str:
    """'claimed' -> '対応開始'; an action without a label is shown as it is."""
    return ACTIONS.get(action, action)


def detail_label(action: str, detail: str | None) -> str:
    """The detail of an audit row in Japanese: a priority, an operator, an alert, a reason."""
    if not detail:
        return ""
    if action == "requested" and (m := re.fullmatch(r"priority (\d+)", detail)):
        return f"優先度: {PRIORITIES.get(m.group(1), m.group(1))}"
    if action == "took_over" and detail.startswith("from "):
        return f"{detail[5:]}さんから"
    if action == "alert":
        return ALERT_KINDS.get(detail, detail)
    if action == "deleted":
        return DELETION_REASONS.get(detail, detail)
    return detail


LEVELS = {"sure": "はっきり", "possible": "可能性（確認の質問をしました）"}
ANSWERS = {"yes": "「はい」と答えました", "no": "「いいえ」と答えました"}


def detection_rows(flags: dict[str, Any]) -> list[str]:
    """What the bot saw of danger and crisis, oldest first: '11/24 20:03 危機: 可能性…'.

    Never the person's words: the kind, how sure, why (a rule or the model), and
    the answer to the safety question.
    """
    rows = []
    for d in flags.get("detections", []):
        at = datetime.fromisoformat(d["at"]).astimezone(JST)
        kind = ALERT_KINDS.get(d.get("kind", ""), d.get("kind", ""))
        if d.get("level") == "answer":
            what = ANSWERS.get(d.get("answer", ""), d.get("answer", ""))
        else:
            by = d.get("by", "")
            why = "（語句のルール）" if by.startswith("rule:") else "（学習モデル）" if by else ""
            what = LEVELS.get(d.get("level", ""), d.get("level", "")) + why
        rows.append(f"{at.month}/{at.day} {at:%H:%M} {kind}: {what}")
    return rows
