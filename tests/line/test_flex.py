"""Windows as Flex cards, within each of LINE's limits, at the limit and one past it."""
from __future__ import annotations

import pytest

from bot.channels.line.check import actions, problems
from bot.channels.line.limits import json_size
from bot.channels.line.plain import message_text
from bot.channels.line.render import render
from bot.engine import Button, ContactCard, Reply, Text
from bot.engine.types import CardPhone


def card(i: int = 0, *, summary: str = "ネットの人権侵害を相談できます。", url: str = "https://example.jp/",
         phones: tuple[str, ...] = ("0570-003-110",), open_now: bool | None = True,
         name: str | None = None, kind: str = "window") -> ContactCard:
    return ContactCard(f"w{i}", f"■ 窓口{i}", (summary,), url, open_now, kind=kind,  # type: ignore[arg-type]
                       name=name or f"窓口{i}", operator="法務省", summary=summary,
                       badge="受付中" if open_now else "時間外・次は明日 8:30から",
                       hours="今日 8:30〜17:15",
                       phones=tuple(CardPhone(p, "通話料がかかります") for p in phones))


def only(batches):
    assert len(batches) == 1 and problems(batches[0]) == []
    return batches[0]


def bubbles(message):
    contents = message["contents"]
    return contents["contents"] if contents["type"] == "carousel" else [contents]


def uris(message):
    return [a["uri"] for a in actions(message) if a["type"] == "uri"]


def test_a_window_has_one_call_button_per_number_and_its_site():
    msg = only(render(Reply([card(phones=("0570-078374", "03-6745-5600"))])))[0]
    assert msg["type"] == "flex" and msg["contents"]["type"] == "bubble"
    assert uris(msg) == ["tel:0570078374", "tel:0367455600", "https://example.jp/"]
    labels = [a["label"] for a in actions(msg)]
    assert labels == ["電話する 0570-078374", "電話する 03-6745-5600", "サイトを見る"]
    words = message_text(msg)
    assert "［受付中］ 今日 8:30〜17:15" in words and "☎ 0570-078374" in words
    assert "窓口0" in msg["altText"] and "☎0570-078374" in msg["altText"]


def test_a_hash_number_dials_on_android_and_can_be_copied_for_an_iphone():
    msg = only(render(Reply([card(phones=("#9110",))])))[0]
    assert uris(msg)[0] == "tel:%239110"  # a bare # would start a URI fragment
    copy = [a for a in actions(msg) if a["type"] == "clipboard"]
    assert copy == [{"type": "clipboard", "label": "番号をコピー", "clipboardText": "#9110"}]
    assert "電話アプリに貼り付けて" in message_text(msg)


def test_110_and_119_are_red_with_one_big_call_button():
    msg = only(render(Reply([card(1, name="110番", phones=("110",), kind="emergency"), card(2)])))[0]
    first = bubbles(msg)[0]
    button = first["footer"]["contents"][0]
    assert button["action"] == {"type": "uri", "label": "110番に電話する", "uri": "tel:110"}
    assert button["height"] == "md" and button["color"] == "#D32F2F"
    assert first["body"]["contents"][0]["size"] == "3xl"


def test_a_closed_window_can_still_be_called_but_the_button_is_not_green():
    msg = only(render(Reply([card(open_now=False)])))[0]
    call = msg["contents"]["footer"]["contents"][0]
    assert call["style"] == "secondary" and call["action"]["uri"] == "tel:0570003110"


# -- bubbles per carousel: 12 -------------------------------------------------------

def test_twelve_windows_fit_one_carousel():
    msg = only(render(Reply([card(i) for i in range(12)])))[0]
    assert len(bubbles(msg)) == 12 and "ほかに" not in message_text(msg)


def test_a_thirteenth_window_makes_the_twelfth_bubble_offer_them_all():
    msg = only(render(Reply([card(i) for i in range(13)])))[0]
    assert len(bubbles(msg)) == 12
    last = bubbles(msg)[-1]
    assert "ほかに2件の窓口があります" in message_text({"type": "flex", "contents": last})
    assert [a["data"] for a in actions(last)] == ["c:contacts"]


def test_a_full_carousel_gets_its_buttons_in_a_bubble_after_it():
    buttons = [Button("最初から", "c:restart", "最初から")]
    eleven = only(render(Reply([card(i) for i in range(11)], buttons)))
    assert len(eleven) == 1 and len(bubbles(eleven[0])) == 12  # the buttons' bubble is the 12th
    twelve = only(render(Reply([card(i) for i in range(12)], buttons)))
    assert [len(bubbles(m)) for m in twelve] == [12, 1]
    assert [a["data"] for a in actions(twelve[1]["contents"])] == ["c:restart"]
    assert twelve[1]["quickReply"]["items"][0]["action"]["data"] == "c:restart"


# -- 30 KB a bubble, 50 KB a carousel ------------------------------------------------

def summary_for(size: int) -> str:
    """An ASCII summary that makes a one-card bubble exactly `size` bytes."""
    base = json_size(render(Reply([card(summary="a")]))[0][0]["contents"])
    return "a" * (size - base + 1)


def test_a_bubble_of_exactly_30_kb_is_sent_as_it_is():
    summary = summary_for(30_000)
    msg = only(render(Reply([card(summary=summary)])))[0]
    assert json_size(msg["contents"]) == 30_000 and summary in message_text(msg)


def test_a_bubble_one_byte_over_is_shortened_but_keeps_its_numbers():
    summary = summary_for(30_001)
    msg = only(render(Reply([card(summary=summary)])))[0]
    assert json_size(msg["contents"]) <= 30_000 and summary not in message_text(msg)
    assert uris(msg)[0] == "tel:0570003110" and "…" in message_text(msg)


def test_a_carousel_over_50_kb_is_split_and_nothing_is_lost():
    big = [card(i, summary="a" * 20_000) for i in range(3)]  # each bubble about 20 KB
    messages = only(render(Reply(big)))
    assert [len(bubbles(m)) for m in messages] == [2, 1]
    assert all(json_size(m["contents"]) <= 50_000 for m in messages)


def test_a_carousel_of_exactly_50_kb_is_one_message():
    two = [card(i, summary="a" * 100) for i in range(2)]
    size = json_size(render(Reply(two))[0][0]["contents"])
    extra = 50_000 - size
    padded = [card(0, summary="a" * (100 + extra // 2)),
              card(1, summary="a" * (100 + extra - extra // 2))]
    messages = only(render(Reply(padded)))
    assert len(messages) == 1 and json_size(messages[0]["contents"]) == 50_000
    one_more = [padded[0], card(1, summary="a" * (101 + extra - extra // 2))]
    assert [len(bubbles(m)) for m in only(render(Reply(one_more)))] == [1, 1]


# -- altText: 1,500 characters --------------------------------------------------------

@pytest.mark.parametrize("length,cut", [(1500, False), (1501, True)])
def test_a_question_longer_than_the_alt_text_limit_is_clipped_there(length, cut):
    question = "あ" * length
    msg = only(render(Reply([Text(question)], [Button("はい", "s:yes", "はい")])))[0]
    assert len(msg["altText"]) == 1500 and msg["altText"].endswith("…") is cut
    assert message_text(msg) == question  # the bubble itself keeps every word


def test_alt_text_lists_whole_windows_up_to_the_limit():
    many = [card(i, name="名" * 90) for i in range(20)]
    for msg in only(render(Reply(many))):
        assert len(msg["altText"]) <= 1500 and msg["altText"].splitlines()[-1].startswith("・")


# -- URI: 1,000 characters -----------------------------------------------------------

@pytest.mark.parametrize("length,shown", [(1000, True), (1001, False)])
def test_a_site_link_is_offered_only_within_the_uri_limit(length, shown):
    url = "https://example.jp/" + "a" * (length - len("https://example.jp/"))
    msg = only(render(Reply([card(url=url)])))[0]
    assert (url in uris(msg)) is shown and uris(msg)[0] == "tel:0570003110"


# -- labels: 20 characters -----------------------------------------------------------

@pytest.mark.parametrize("label,shown", [("あ" * 20, "あ" * 20), ("あ" * 21, "あ" * 19 + "…")])
def test_button_labels_are_clipped_at_20_in_the_bubble_and_the_quick_reply(label, shown):
    msg = only(render(Reply([Text("どれですか？")], [Button(label, "b:s:x", label)])))[0]
    assert [a["label"] for a in actions(msg)] == [shown, shown]


# -- messages: 5 a request -------------------------------------------------------------

def test_an_alarm_of_seven_parts_is_gathered_into_five_messages_in_order():
    reply = Reply([Text("119"), card(1, kind="emergency", phones=("119",)), Text("110"),
                   card(2, kind="emergency", phones=("110",)), Text("crisis"), card(3),
                   Text("落ち着いたら")], [Button("相談を続ける", "c:continue", "相談を続ける")])
    batch = only(render(reply))
    assert len(batch) <= 5
    words = [message_text(m) for m in batch]
    assert words[0] == "119\n\n110" and uris(batch[1])[:2] == ["tel:119", "tel:110"]


def test_five_messages_fit_one_request_and_a_sixth_that_cannot_join_goes_in_the_next():
    five = [Text("い" * 4000), card(1), Text("い" * 4000), card(2), Text("い" * 4000)]
    assert len(only(render(Reply(five)))) == 5
    batches = render(Reply(five + [card(3), Text("い" * 4000)]))
    assert [len(b) for b in batches] == [5, 2] and all(problems(b) == [] for b in batches)
