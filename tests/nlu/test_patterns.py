"""The pattern language: words in any form, never inside another word."""
from __future__ import annotations

import re

import pytest

from bot.nlu.morph import analyse
from bot.nlu.patterns import PatternError, PatternIndex, compile_pattern
from bot.nlu.text import Folder, Spelling, fold, language

FOLD = Folder((Spelling("タヒ", "死", ("に", "ね", "ぬ")),))


def matches(pattern: str, message: str) -> bool:
    index = PatternIndex([compile_pattern(pattern)])
    return bool(index.find(analyse(FOLD(message), folded=True)))


@pytest.mark.parametrize("message", ["消えちゃいたい", "きえたい", "キエタイ", "ｷｴﾀｲ", "もう消えてしまいたい"])
def test_a_word_matches_any_of_its_forms(message):
    assert matches("消える", message)


@pytest.mark.parametrize("message", ["付き纏われてる", "つきまとわれてる", "付きまとわれて困ってる"])
def test_a_long_verb_matches_its_other_spellings_and_forms(message):
    assert matches("つきまとう", message)


@pytest.mark.parametrize("message", ["確認したところ、すでに削除されていました", "ところすごく困ってる"])
def test_a_word_never_matches_inside_another_word(message):
    assert not matches("ころす", message)


def test_kana_and_kanji_spellings_meet_through_the_reading():
    assert matches("ころす", "殺される") and matches("殺す", "ころすぞ") and matches("刺す", "さされた")
    assert not matches("刺す", "駅を指で指す")  # both in kanji: a different word


@pytest.mark.parametrize("message,hit", [
    ("死にたい", True), ("死んじゃいたい", True), ("死んでしまいたい", True), ("しにたーい", True),
    ("しにたぃ", True), ("タヒにたい", True), ("ｼﾆﾀｲ", True),
    ("死ぬほど恥ずかしくて帰りたい", False), ("死ぬほど眠い", False)])
def test_plus_allows_only_helper_words_between(message, hit):
    assert matches("死ぬ + たい", message) is hit


def test_dots_allow_any_words_but_not_a_new_sentence():
    assert matches("家 ... 来る", "家の近くまで車で来た")
    assert not matches("家 ... 来る", "家にいます。明日友達が来る")


def test_words_in_a_row_and_kana_the_dictionary_splits():
    assert matches("生きるのがつらい", "生きるのがつらいです")
    assert not matches("生きるのがつらい", "生きてるのがつらい")  # that needs 生きる + つらい
    assert matches("生きる + つらい", "生きてるのがつらい")
    assert matches("自殺", "じさつしたい") and matches("悪口", "わるぐちかかれた")


def test_a_whole_words_pattern_never_matches_a_run_of_kana_read_together():
    """A rule's `none` is matched on the dictionary's words only: in リスカした the kana
    か (a particle) + し (する) read かし, 歌詞, which held the crisis back as song lyrics."""
    message = analyse(FOLD("リスカした"), folded=True)
    lyrics = compile_pattern("歌詞")
    assert PatternIndex([lyrics]).find(message) == {0}  # a run of kana: a guess
    assert PatternIndex([lyrics], whole_words=frozenset({0})).find(message) == set()
    sung = analyse(FOLD("かしをかいた"), folded=True)  # the word itself still counts
    assert PatternIndex([lyrics], whole_words=frozenset({0})).find(sung) == {0}


def test_english_words_prefixes_and_exact_forms():
    assert matches("kill* + myself", "I want to KILL myself") and matches("kill* + myself", "killing myself")
    assert not matches("kill* + myself", "kill yourself")
    assert matches("=死ね", "死ねって書かれた") and not matches("=死ね", "死にたい")


@pytest.mark.parametrize("bad,why", [("死ぬ +", "empty part"), ("ki*", "too short"),
                                     ("死*", "English words only"),
                                     ("私|今から + 死ぬ", "'今から' is read as 今 + から"),
                                     ("kill*|die", "cannot be one of several")])
def test_a_broken_pattern_says_what_is_wrong(bad, why):
    with pytest.raises(PatternError, match=re.escape(why)):
        compile_pattern(bad)


def test_one_of_several_words():
    assert matches("私|僕 + の + 悪口|写真", "わたしの写真が勝手に") and matches("私|僕 + の + 悪口|写真", "僕の悪口")
    assert not matches("私|僕 + の + 悪口|写真", "私の娘の写真")
    assert not matches("私|僕 + の + 悪口|写真", "彼の悪口")


def test_kana_said_again_and_again_is_read_as_each_one():
    """しにたいしにたいしにたい was read し, に, たいし, に, たいし...: no word of dying in it."""
    assert matches("死ぬ + たい", "しにたいしにたいしにたい")
    assert matches("消える + たい", "キエタイキエタイ")
    assert fold("ころころ") == "ころころ" and fold("いろいろ") == "いろいろ"  # one word each
    # repeats anywhere in a run of kana, cut where a word ends
    assert matches("死ぬ + たい", "つらいしにたいしにたいしにたい")
    assert matches("死ぬ + たい", "しにたいしにたいしにたいです")
    assert matches("死ぬ + たい", "ほんとにしにたいしにたいって思う")
    assert fold("すごいこわいこわい") == "すごい こわい こわい"  # not すごいこわ いこわい
    # three kana twice inside a run are as often chance: って|いって is no repeat
    assert fold("ともだちがしにたいっていってる") == "ともだちがしにたいっていってる"
    # two kana said three times or more
    assert fold("もうしぬしぬしぬ") == "もう しぬ しぬ しぬ"
    assert matches("死ぬ", "しぬしぬしぬ")


def test_a_run_of_kana_is_cut_again_before_a_word_a_pattern_names():
    """きょうしぬ is read 供する + ぬ; cut again before しぬ it reads きょう + しぬ."""
    index = PatternIndex([compile_pattern("今日 + 死ぬ")], cut_again=frozenset({0}))
    message = analyse("きょうしぬ")
    assert index.find(message) == set()
    assert index.find_cut_again(message, set()) == {0}
    assert index.find_cut_again(analyse("ところすごい"), set()) == set()
    assert PatternIndex([compile_pattern("今日 + 死ぬ")]).find_cut_again(message, set()) == set()


def test_folding_keeps_word_boundaries_and_undoes_decoration():
    assert fold("ｼﾆﾀｲ　ＨＥＬＰ") == "シニタイ help"
    assert fold("しにたーーい") == fold("しにたぁい") == "しにたい"
    assert fold("しにたいいいい") == "しにたい"


@pytest.mark.parametrize("text,lang", [("死にたい", "ja"), ("I want to die", "en"),
                                       ("shinitai", "en"), ("インスタでkill yourselfって言われた", "ja"),
                                       ("😢", ""), ("죽고 싶어", "other")])
def test_language(text, lang):
    assert language(text) == lang


def test_a_broken_choice_is_reported_once_at_its_line(tmp_path):
    """A rejected choice also said the rule 'needs any patterns', which it had."""
    from bot.nlu.rules import read_rules

    path = tmp_path / "keywords.yaml"
    path.write_text("rules:\n  - id: slang\n    any: [ネトスト|今から]\n    set: {topic: stalking}\n",
                    encoding="utf-8")
    _, errors = read_rules(path)
    assert [str(e) for e in errors] == [
        "keywords.yaml:3: rule 'slang': each choice in 'ネトスト|今から' must be one word "
        "('ネトスト' is read as ねと + すと); write a longer choice as its own pattern"]
