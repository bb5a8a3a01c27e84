"""The interview's answers as staff read them: each answer in the words of its own question."""
from __future__ import annotations

import re

from .conftest import login


def summary(client, handoff_id: int) -> str:
    html = client.get(f"/console/c/{handoff_id}").get_data(as_text=True)
    text = re.search(r'<p id="summary">(.*?)</p>', html, re.S).group(1)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text)).strip()


def ask_for_staff_after(person, *labels: str) -> None:
    person.send(person.line.follow())
    for label in labels:
        person.taps(label)
    assert person.says("人と話したい")[0].startswith("スタッフ（人）とのやり取りに切り替えますか？")
    person.taps("切り替える")


def test_a_parent_of_an_adult_is_summarised_as_such(bot, person):
    ask_for_staff_after(person, "子どものこと（保護者）", "18歳以上", "つきまとわれている", "交際相手・配偶者（元も）")
    handoff = bot.extensions["bot"].store.handoffs.queue()[0]
    text = summary(login(bot, "alice"), handoff.id)
    assert "だれのこと: 子どものこと（保護者）" in text
    assert "年齢: 18歳以上" in text
    assert "内容: つきまとわれている" in text
    assert "相手: 交際相手・配偶者（元も）" in text
    assert "18歳未満:" not in text


def test_a_child_is_summarised_with_the_age_questions_words(bot, person):
    ask_for_staff_after(person, "生徒のこと（学校）")  # the school button sets child without asking
    handoff = bot.extensions["bot"].store.handoffs.queue()[0]
    text = summary(login(bot, "alice"), handoff.id)
    assert "年齢: 18歳未満" in text
    assert "生徒のこと（学校）" in text and "年齢: 生徒のこと（学校）" not in text
