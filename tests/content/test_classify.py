"""How the bot reads free text, measured on realistic messages; safety may never be missed."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def cases(name: str) -> list[dict]:
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))["cases"]


def accuracy_script():
    spec = importlib.util.spec_from_file_location("acc", ROOT / "scripts" / "classify_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sets_are_large_and_broad_enough():
    held = cases("holdout.yaml")
    kinds = [c["kind"] for c in held]
    assert len(held) >= 300
    assert all(kinds.count(k) >= 60 for k in ("crisis", "danger", "hard_negative"))
    assert len(cases("validation.yaml")) >= 200


SAFETY = [(name, c) for name in ("validation.yaml", "holdout.yaml") for c in cases(name)
          if c["crisis"] or c["danger"]]


@pytest.mark.parametrize("name,case", SAFETY, ids=[c["text"][:40] for _, c in SAFETY])
def test_every_crisis_and_danger_is_interrupted_or_asked(understanding, name, case):
    got = understanding(case["text"])
    for alarm in ("crisis", "danger"):
        if case[alarm]:
            assert got.levels.get(alarm) in ("sure", "possible"), \
                f"{name}: {alarm} missed: {got.as_json()}"


def test_every_training_example_of_an_alarm_is_caught(understanding):
    for alarm in ("crisis", "danger"):
        for e in understanding.examples.fields[alarm].examples:
            if e.label == alarm:
                assert understanding(e.text).levels.get(alarm), f"{e.where}: {e.text}"


def test_readme_reports_the_accuracy_measured_now(understanding):
    assert accuracy_script().summary(understanding) in (ROOT / "README.md").read_text(
        encoding="utf-8"), "README's table is stale: run python scripts/update_readme.py"


def test_several_signals_in_one_message_all_count(understanding):
    got = understanding("中学生の娘がインスタで悪口を書かれて消したい").as_json()
    assert (got["topic"], got["want"], got["audience"], got["flags"]) == \
        ("defamation", "delete", "guardian", ["child"])
    assert got["danger"] is got["crisis"] is False and got["check"] is None
    assert {"audience_guardian", "flag_child", "topic_defamation", "want_delete"} <= set(got["matched"])


@pytest.mark.parametrize("text", ["確認したところ、すでに削除されていました", "アリスのイラストを描きました",
                                  "写真でマッチングする機能", "死ぬほど恥ずかしい",
                                  "殺す気かってくらい忙しい", "部長に釘を刺された",
                                  "おばあちゃんの家に行く予定です"])
def test_the_words_that_fooled_substring_rules_raise_nothing_sure(understanding, text):
    got = understanding(text)
    assert not got.danger and not got.crisis, got.as_json()


@pytest.mark.parametrize("text,alarm", [("生きてるのがつらい", "crisis"), ("しにたぃ", "crisis"),
                                        ("タヒにたい", "crisis"), ("消えちゃいたい", "crisis"),
                                        ("I want to die", "crisis"),
                                        ("家を特定された。最寄り駅で待ってるってDMが来た", "danger"),
                                        ("来なかったら家行って殴るって言われた", "danger"),
                                        ("he said he'll kill me", "danger"),
                                        ("someone is outside my house", "danger")])
def test_what_the_old_rules_missed_is_sure_now(understanding, text, alarm):
    assert understanding(text).levels.get(alarm) == "sure"


def test_a_rules_none_is_not_read_into_kana_the_dictionary_split(understanding):
    """リスカした (I cut myself): in a run of kana, か+し reads 歌詞 (lyrics), a `none` word
    of the sure crisis rule; only whole words hold an alarm back."""
    got = understanding("リスカした")
    assert got.crisis, got.as_json()


@pytest.mark.parametrize("text,alarm", [("もう疲れた", "crisis"), ("限界かも", "crisis"),
                                        ("なんか怖い", "danger")])
def test_distress_without_certainty_asks(understanding, text, alarm):
    got = understanding(text)
    assert got.check == alarm and not got.crisis and not got.danger


@pytest.mark.parametrize("text", ["毎日死ねって言われる。もう死にます", "ニュースに名前が出て、もう死ぬ",
                                  "大丈夫です。もう死にます", "以前から晒されてて、今夜死にます",
                                  "ゲームで毎日死ねって言われてる。本当に死にたい",
                                  "「死ね」ってDMが何十件も来る。死にたい",
                                  "以前から誹謗中傷されてて、死にたい気持ちが消えない",
                                  "明日死ぬ。誰にも言わないで"])
def test_what_a_harassed_person_writes_around_a_crisis_never_holds_it_back(understanding, text):
    """A rule's `none` also stops the model from being sure: the intent rules' lists name
    only figures of speech and jokes, not 「死ね」と言われた, the past or the news, which
    come with real crises here. (These were sure by the model before the intent rules,
    then only asked about.)"""
    got = understanding(text)
    assert got.crisis, got.as_json()


@pytest.mark.parametrize("text", ["祖母はもう死んでいます", "自殺する人の気持ちがわからない",
                                  "中学のとき死にたいって思ってた時期もあったけど、今はもう大丈夫です",
                                  "死ぬまでに行きたい世界の絶景って本を読んだ", "新しい業界に飛び込む",
                                  "ごめんなさい、証拠の投稿が消えてしまいました", "既読はつくけど反応ないです",
                                  "薬のことは全部先生に言った", "もう自殺なんて考えてないよ",
                                  "人身事故で電車止まってる。誰か線路に飛び込んだらしい",
                                  "猫が棚の上から飛び降りた",
                                  "今までありがとうございました、来週からいなくなるけどまた遊びに来ます",
                                  "去年は本気で死にたいと思ってたけど、今は元気です"])
def test_words_of_dying_that_say_no_intent_now_are_not_sure(understanding, text):
    got = understanding(text)
    assert not got.crisis and not got.medical, got.as_json()


@pytest.mark.parametrize("text,medical", [("カフェインの錠剤50粒飲んだ", True), ("睡眠薬30錠飲んだ", True),
                                          ("ルル一箱飲んだ", True), ("咳止めシート全部いった", True),
                                          ("ブロン1瓶いった", True), ("ロキソニンを1錠飲んだ", False),
                                          ("デパス20錠とお酒一緒に飲んじゃった", True),
                                          ("くすり20こくらいのんだ", True), ("睡眠薬二〇錠飲んだ", True),
                                          ("ブロン80錠いった", True),
                                          ("処方された睡眠薬を飲んだ", False),
                                          ("パブロン1箱買ってきて朝の分を飲んだ", False),
                                          ("昔30錠飲んで運ばれたことある", False),
                                          ("1日12錠も飲まなきゃいけない", False),
                                          ("エビオス錠を毎日10錠飲んでる", False), ("牛乳1瓶飲んだ", False),
                                          ("お一人様1箱のみでパブロン買えなかった", False),
                                          ("いつもの睡眠薬飲んだのに眠れない", False)])
def test_an_overdose_is_marked_for_119_and_a_dose_is_not(understanding, text, medical):
    """A count of pills is read by number (ten or more read as 大量, for the rules), sheets,
    boxes and bottles by being taken just after: 1錠 as prescribed, a daily dose, or a box
    bought, is not an emergency."""
    got = understanding(text)
    assert got.medical is medical, got.as_json()
    if medical:
        assert got.crisis or got.check == "crisis"


@pytest.mark.parametrize("text", ["晒されてから外に出るのが怖い。生きる意味ってなんだろう",
                                  "監視されてるみたいで怖い。もう限界、つらい",
                                  "明日学校の帰りに線路に行く",
                                  "生徒から「今夜消える」とLINEが来ました。担任です"])
def test_a_crisis_is_not_passed_over_for_a_danger_word(understanding, text):
    """Both alarms only possible: a crisis a rule saw (生きる意味, 限界, 線路, 消える) is asked
    about before a danger the model alone half-reads, and before 怖い when the model reads
    the crisis as likelier. (A rule's reading once counted as each alarm's own `sure`
    threshold, and danger's is higher: every 怖い won.)"""
    got = understanding(text)
    assert got.levels.get("crisis") == "possible", got.as_json()
    assert got.check == "crisis", got.as_json()


def test_the_question_asked_is_about_the_alarm_the_persons_words_showed(understanding):
    """A rule saw danger (危ない), only the model thought of a crisis: ask about danger,
    not whether they want to die."""
    got = understanding("やっぱり危ないかも")
    assert got.levels.get("danger") == "possible" and got.by["danger"].startswith("rule:")
    assert got.check == "danger", got.as_json()


@pytest.mark.parametrize("text", ["きょうしぬ", "きょうしぬから"])
def test_hiragana_the_dictionary_cuts_wrongly_is_cut_again_and_asked_about(understanding, text):
    """The dictionary read きょうしぬ as 供する + ぬ: no word of dying, and nothing was asked."""
    got = understanding(text)
    assert got.check == "crisis", got.as_json()  # asked: a guess is never sure
    assert any("cut again" in m for m in got.matched), got.as_json()
    assert got.values.get("audience") is None  # きょうし is not 教師 (a teacher writing)


@pytest.mark.parametrize("text,audience", [
    ("ママ友がグループLINEで私の悪口を流しています。子どももいるので大ごとにはしたくないです", "self"),
    ("娘が受験生なので騒ぎにしたくないのですが、掲示板に私のフルネームと住所を書かれました", "self"),
    ("Googleマップに私の店の嘘の口コミを書かれています。子どももいるので心配です", "self"),
    ("母が近所の人にSNSで悪口を書かれています。娘の私が代わりに相談させてください", "friend"),
    ("中2の娘がクラスのLINEで悪口を書かれています", "guardian"),
    # someone quoted: the case is theirs, not the writer's
    ("友達が「私の住所がさらされた、もう死ぬ」ってLINEしてきた", "friend"),
    ("息子が、俺の名前がネットに出てると言ってリストカットしていました", "guardian")])
def test_a_victim_who_speaks_of_their_children_is_read_as_the_one_affected(understanding, text,
                                                                          audience):
    """子どももいるので made a victim's own case a parent's: every question then said その方."""
    assert understanding(text).values.get("audience") == audience


@pytest.mark.parametrize("text,alarm", [("さすぞ", "danger"), ("さしてやる", "danger"),
                                        ("やんでる", "crisis")])
def test_kana_the_dictionary_reads_as_another_word_still_matches_by_its_sound(understanding,
                                                                            text, alarm):
    """さす (刺す or 指す), やむ (病む or 止む): only particles, and words marked ^, are never
    matched by their sound."""
    got = understanding(text)
    assert got.levels.get(alarm), got.as_json()


@pytest.mark.parametrize("text", ["けいさつにいきます", "ちょっとコンビニいってくる",
                                  "もとかれに ひっこしさき ばれた。いまから いくから って らいん きた"])
def test_kana_the_dictionary_reads_as_another_word_is_not_read_by_its_sound(understanding, text):
    """いく is 行く to the dictionary; matched by its sound to 逝く, いってくる was a sure crisis."""
    got = understanding(text)
    assert not [m for m in got.matched if m.startswith("crisis")], got.as_json()
    assert got.levels.get("crisis") != "sure", got.as_json()
    assert understanding("もう逝きます").crisis  # written as 逝く, it is still read so


def test_a_particle_is_not_read_as_a_word_of_the_same_sound(understanding):
    """The か of a question (or of なんか) matched 蚊 in danger_sure's `none` (insects are not
    threats) and held the threat back to a question."""
    got = understanding("家に行くからなってDMが来ました。どうすればいいですか")
    assert got.danger, got.as_json()


def test_a_kana_word_read_as_another_word_is_taken_by_its_sound_as_a_guess(understanding):
    """いえ, read as a form of いえる, was not 家: the threat was not seen by any rule. Taken by
    its sound it is a guess, so the bot asks (and never reads きょうし as 教師: a teacher)."""
    got = understanding("なんかさーくらすのやつにいんすたのdmで おまえのいえいくからな ってきたんだけどまじこわい")
    assert got.check == "danger" and "danger_sure (cut again)" in got.matched, got.as_json()
    assert understanding("きょうしぬ").values.get("audience") is None


@pytest.mark.parametrize("text", ["いま べらんだに だれか いる おと する",
                                  "おばあちゃんの いえに へんな おとこが なんども きて ふくしゅう するって いってる"])
def test_someone_at_the_window_or_a_threat_of_revenge_in_hiragana_is_not_missed(understanding, text):
    """Both were missed entirely: ベランダ was no place, and ふくしゅう is read 復習 (study)."""
    got = understanding(text)
    assert got.danger or got.check == "danger", got.as_json()


@pytest.mark.parametrize("text,alarm", [
    ("小4の息子がオンラインゲームの相手から「家に行って殺す」と言われ、怯えています", "danger"),
    ("元夫が「今から行く」と連絡してきました。以前暴力を受けていました", "danger"),
    ("Discordの人に「住所特定した、刃物持って行く」って言われた。冗談かもしれないけど住所は本物", "danger"),
    ("正直もう死んだ方が楽なんじゃないかって思ってる", "crisis")])
def test_a_none_word_around_a_real_threat_or_crisis_does_not_hold_it_back(understanding, text,
                                                                          alarm):
    """ゲーム, 以前 and 冗談 in danger_sure's none held these back to a question."""
    assert understanding(text).levels.get(alarm) == "sure", understanding(text).as_json()
    assert not understanding("ゲームでボス殺すのに3時間かかったｗｗ").danger  # a game still is one


@pytest.mark.parametrize("text", ["ところすごいね", "わたしのことすきなひといる？"])
def test_cutting_kana_again_raises_no_alarm_on_ordinary_words(understanding, text):
    got = understanding(text)
    assert not any("cut again" in m for m in got.matched), got.as_json()


@pytest.mark.parametrize("text", ["薬をたくさん飲んだ", "手首を切って血が止まらない", "ODした"])
def test_medical_emergencies_are_marked_for_119(understanding, text):
    got = understanding(text)
    assert got.medical and got.crisis


def test_classify_prints_rules_model_check_and_language(make_app):
    app = make_app()
    result = app.test_cli_runner().invoke(args=["classify", "家に来るって言われて怖い"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["danger"] is True and out["crisis"] is False and out["language"] == "ja"
    assert "danger_sure" in out["matched"] and out["by"]["danger"] == "rule:danger_sure"
    assert set(out["model"]) == {"topic", "want", "audience", "crisis", "danger"}
    assert 0 <= out["model"]["danger"]["score"] <= 1
    maybe = json.loads(app.test_cli_runner().invoke(args=["classify", "もう限界"]).output)
    assert maybe["crisis"] is False and maybe["check"] == "crisis"


def test_classify_reads_a_file_one_message_a_line(make_app, tmp_path):
    app = make_app()
    messages = ["死にたい", "I want to die", "悪口を書かれた", "", "ODした"] * 40
    path = tmp_path / "messages.txt"
    path.write_text("\n".join(messages) + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["classify", "--file", str(path)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == len(messages)
    assert rows[0]["crisis"] and rows[1]["language"] == "en" and rows[2]["topic"] == "defamation"
    stdin = app.test_cli_runner().invoke(args=["classify", "--file", "-"], input="殺すぞ\n")
    assert json.loads(stdin.output)["danger"] is True


def test_classify_needs_text_or_a_file(make_app):
    result = make_app().test_cli_runner().invoke(args=["classify"])
    assert result.exit_code == 2 and "TEXT or --file" in result.output
