"""The advice fits the case: what to keep (and never keep), logs before deletion, the law per topic."""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.contacts.model import TOPICS, WANTS

from .conftest import at, tap
from .test_interview import TOPIC_LABELS, WANT_LABELS, walk

ROOT = Path(__file__).resolve().parents[2]
WEEKDAY = at("2026-11-24T10:00")
# Sentences that tell a person to make or keep a copy of an image.
COPY_AN_IMAGE = ("・投稿やDMの画面のスクリーンショット", "・相手のアカウントのページのスクリーンショット",
                 "クラウドにも控えを置く", "元のまま保存する", "画面のスクリーンショット\n")
CHILD_IMAGE_CASES = [("illegal_report", "自分のこと", "18歳以上"),
                     ("sexual_image", "自分のこと", "18歳未満"),
                     ("sexual_image", "子どものこと（保護者）", "18歳未満"),
                     ("sexual_image", "生徒のこと（学校）", None),
                     ("sexual_image", "友人・家族のこと", "わからない")]


def advice(engine, topic: str, want: str, who: str = "自分のこと", age: str | None = "18歳以上"):
    """The reply to the want, then each 'more' page: every text the advice can show."""
    out = walk(engine, topic, want, who=who, age=age)  # at the windows
    back = [engine.handle(out.conv, _say("戻る"))]     # back to the advice
    texts = list(back[0].reply.texts())
    for more in ("証拠の残し方（くわしく）", "身を守る設定（くわしく）", "法律のこと"):
        texts += tap(engine, back[0], more, WEEKDAY).reply.texts()
    return texts, out


def _say(text: str):
    from bot.engine import Inbound
    return Inbound("text", WEEKDAY, text=text)


def reply_to_want(engine, topic: str, want: str, who: str = "自分のこと", age: str | None = "18歳以上"):
    from bot.engine import Inbound
    out = engine.handle(None, Inbound("follow", WEEKDAY))
    for label in (who, age, TOPIC_LABELS[topic]):
        if label:
            out = tap(engine, out, label, WEEKDAY)
    if out.conv.state == "partner":
        out = tap(engine, out, "わからない", WEEKDAY)
    return tap(engine, out, WANT_LABELS[want], WEEKDAY)


@pytest.mark.parametrize("case,want", list(itertools.product(CHILD_IMAGE_CASES, WANTS)))
def test_childrens_images_are_never_to_be_copied_only_their_url_noted(engine, case, want):
    topic, who, age = case
    first = "\n".join(reply_to_want(engine, topic, want, who, age).reply.texts())
    texts, _ = advice(engine, topic, want, who, age)
    everything = first + "\n".join(texts)
    for phrase in COPY_AN_IMAGE:
        assert phrase not in everything, (case, want, phrase)
    assert "クラウドへのコピーをしないでください" in first
    assert "URLと、見つけた日時をメモ" in first


def test_a_childs_own_images_go_to_safeline_and_the_police(engine):
    first = "\n".join(reply_to_want(engine, "sexual_image", "delete", "子どものこと（保護者）",
                                    "18歳未満").reply.texts())
    assert "セーフラインに削除を求める" in first and "警察に相談する" in first


@pytest.mark.parametrize("topic", [t for t in TOPICS if t != "illegal_report"])
def test_anyone_who_wants_a_post_deleted_hears_of_logs_and_the_report_form_first(engine, topic):
    text = "\n".join(reply_to_want(engine, topic, "delete").reply.texts())
    assert "削除を頼む前に、サイトに記録（ログ）の保存を頼む" in text
    assert text.index("記録（ログ）の保存") < text.index("通報・報告フォームから削除を求める")


@pytest.mark.parametrize("topic,want", list(itertools.product(TOPICS, WANTS)))
def test_dont_argue_back_only_where_there_is_someone_to_argue_with(engine, topic, want):
    text = "\n".join(reply_to_want(engine, topic, want).reply.texts())
    told = "言い返したり" in text
    assert told == (topic in ("defamation", "privacy", "impersonation", "bullying", "other")), topic
    if topic in ("stalking", "threat"):
        assert "返信せず" in text


@pytest.mark.parametrize("topic,words", [
    ("stalking", ["ストーカー規制法", "SNSでのつきまといも対象"]),
    ("threat", ["「脅迫」という犯罪", "警察に相談してください"]),
    ("defamation", ["本当でも成り立つことがあります", "公共の利害", "侮辱"]),
    ("sexual_image", ["持っているだけで罪になることがあります"]),
    ("account", ["不正アクセス"]),
])
def test_the_legal_page_speaks_of_the_topic(engine, topic, words):
    out = reply_to_want(engine, topic, "unsure")
    text = "\n".join(tap(engine, out, "法律のこと", WEEKDAY).reply.texts())
    for w in words:
        assert w in text, (topic, w)
    if topic != "account":
        assert "2〜3週間" in text and "弁護士に頼むのが一般的" in text


def test_no_claim_without_a_source_is_left_in_the_flows():
    flows = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "flows").glob("*.yaml"))
    for claim in ("数か月ほどで消える", "本当かどうかは問いません"):
        assert claim not in flows


def test_sextortion_advice_says_do_not_pay_keep_the_chat_and_go_to_the_police(engine):
    text = "\n".join(reply_to_want(engine, "sexual_image", "talk").reply.texts())
    assert "お金を払ったり" in text and "消さずにそのまま残し" in text and "警察に相談" in text
