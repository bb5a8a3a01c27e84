"""`flask --app bot validate`: each mistake an editor can make, reported as file:line."""
from __future__ import annotations

import pytest

FLOW = "flows/main.yaml"


def validate(make_app, workspace, *args):
    app = make_app(**workspace.config)
    result = app.test_cli_runner(mix_stderr=False).invoke(args=["validate", *args]) \
        if "mix_stderr" in app.test_cli_runner.__code__.co_varnames else \
        app.test_cli_runner().invoke(args=["validate", *args])
    return result.exit_code, result.output.splitlines()


def test_the_shipped_content_is_valid(make_app, workspace):
    code, lines = validate(make_app, workspace, "--today", "2026-12-08")
    assert code == 0
    assert lines[-1] == "ok: the flows, contacts.yaml, keywords.yaml and examples/ are valid"


LONG_LABEL = "とても長いボタンのラベルでLINEの上限を超えてしまいます"
CASES = {
    "yaml syntax": (FLOW, "  start:\n    asks: audience", "  start:\n    asks: [audience",
                    "say: [どなたが困っていますか？]",
                    "(while parsing a flow sequence at line"),
    "misspelt key": (FLOW, "    say: [どなたが困っていますか？]", "    sya: [どなたが困っていますか？]",
                     "sya:", "unknown key 'sya' in state 'start'; allowed: asks, buttons, end, next, say"),
    "missing target": (FLOW, "to: legal_more}", "to: legal_mor}", "to: legal_mor}",
                       "button 'legal' of state 'advice' goes to 'legal_mor', which is not a state"),
    "a date that does not exist": ("contacts.yaml", "verified_on: 2026-11-01", "verified_on: 2026-11-31",
                                   "2026-11-31", "'2026-11-31' is not a real date"),
    "a # that cuts a text": (FLOW, "  nothing_to_go_back_to: これより前の質問はありません。",
                             "  nothing_to_go_back_to: 急ぎでなければ #9110 へ。",
                             "急ぎでなければ", "put the whole text in quotes"),
    "unreachable": (FLOW, "  all_windows:", "  staff_later:\n    say: [x]\n    end: true\n  all_windows:",
                    "  staff_later:", "state 'staff_later' is never reached"),
    "no way out": (FLOW, "    next: what\n", "\n", "  friend_note:", "state 'friend_note' has no way out"),
    "duplicate button": (FLOW, "{id: privacy,", "{id: defamation,", "label: 個人情報をさらされた",
                         "button id 'defamation' is used twice in state 'what'"),
    "duplicate contact": ("contacts.yaml", "  - id: police_9110", "  - id: police_110  # the copy",
                          "# the copy", "contact id 'police_110' is used twice (first at line"),
    "undefined contact": (FLOW, "{contacts: {alert: danger, limit: 3}}", "{contacts: {ids: [police_111]}}",
                          "ids: [police_111]", "window 'police_111' is not an enabled contact"),
    "undefined topic": (FLOW, "set: {topic: privacy}", "set: {topic: privcy}", "privcy",
                        "button 'privacy': topic 'privcy' is not defined"),
    "long label": (FLOW, "label: 自分のこと,", f"label: {LONG_LABEL},", LONG_LABEL,
                   "has 29 characters; LINE allows 20"),
    "too many buttons": (FLOW, "      - {id: other, label: その他",
                         "".join(f"      - {{id: x{i}, label: 追加{i}, to: want}}\n" for i in range(4))
                         + "      - {id: other, label: その他", "    buttons:\n      - {id: defamation",
                         "state 'what' has 14 buttons; LINE allows 13"),
    "too many messages": (FLOW, "    say: [被害にあっている方は、18歳未満ですか？]",
                          "    say: [一, 二, 三, 四, 五, 六]", "say: [一, 二", "a state says 6 messages; LINE allows 5"),
    "long text": (FLOW, "    say: [どうしたいですか？いちばん近いものを選んでください。]",
                  "    say: [" + "あ" * 5001 + "]", "ああああ", "a message has 5001 UTF-16 units; LINE allows 5000"),
    "long postback": (FLOW, "{id: other, label: その他", "{id: " + "o" * 300 + ", label: その他",
                      "ooooo", "characters of postback data; LINE allows 300"),
    "bad hours": ("contacts.yaml", "mon-fri: 09:00-21:00", "mon-fri: 9時から21時", "9時から21時",
                  "hours: '9時から21時' is not a time range"),
    "bad phone": ("contacts.yaml", "0570-003-110", "0570-0031-10-9", "0570-0031-10-9",
                  "phone number '0570-0031-10-9' is in an unknown format"),
    "no source": ("contacts.yaml", "    source: https://soudanplus.jp/\n    verified_on: 2026-11-01\n\n  - id: dv_navi",
                  "\n  - id: dv_navi", "  - id: dv_plus", "contact 'dv_plus' is enabled but has no 'source'"),
    "unknown alert kind": (FLOW, "{contacts: {alert: danger, limit: 3}}", "{contacts: {alert: medic, limit: 3}}",
                           "alert: medic, limit", "unknown alert 'medic'; alerts are: danger, crisis, medical"),
    "unknown answer in a window's condition": (
        "contacts.yaml", "first_when: {partner: true}\n    alerts: [danger]",
        "first_when: {partnr: true}\n    alerts: [danger]", "first_when: {partnr",
        "contact 'dv_plus' first_when uses the answer 'partnr', which is not defined"),
    "condition that is not a mapping": ("contacts.yaml", "    match_when: {topic: threat}\n    alerts",
                                        "    match_when: [threat]\n    alerts", "match_when: [threat]",
                                        "match_when: a condition must be a mapping"),
    "navi toll on a number that is not 0570": (
        "contacts.yaml", '{number: "#8008", toll: charged}', '{number: "#8008", toll: navi}',
        '"#8008", toll: navi', "only ナビダイヤル (0570) numbers are 'navi'"),
    "shadowed rule": ("keywords.yaml", "  - id: want_talk", "  - id: want_identify_again\n"
                      "    any: [特定してほしいです]\n    set: {want: identify}\n  - id: want_talk",
                      "want_identify_again",
                      "rule 'want_identify_again' can never change anything: rule 'want_identify'"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_mistake_is_one_line_with_file_and_line(make_app, workspace, case):
    name, old, new, locate, message = CASES[case]
    workspace.edit(name, old, new)
    code, lines = validate(make_app, workspace, "--today", "2026-11-22")
    assert code == 1, lines
    line = workspace.line_of(name, locate)
    expected_prefix = f"{name}:"
    hits = [l for l in lines if l.startswith(expected_prefix) and message in l]
    assert hits, f"no line with {message!r}: {lines}"
    assert any(h.startswith(f"{name}:{line}:") for h in hits), (line, hits)


def test_old_verification_is_a_warning_not_an_error(make_app, workspace):
    code, lines = validate(make_app, workspace, "--today", "2028-01-15")
    assert code == 0
    warnings = [l for l in lines if ": warning: " in l]
    assert any(l.startswith("contacts.yaml:") and "'police_110' was verified on 2026-11-01, over 12 months ago"
               in l for l in warnings)
    assert lines[-1].startswith("0 errors,")


def test_a_button_without_a_target_is_a_warning(make_app, workspace):
    """Tapped, it keeps its answer and asks the same question: an editor thought it broken."""
    workspace.edit(FLOW, "words: [なりすまし], set: {topic: impersonation}, to: want}",
                   "words: [なりすまし], set: {topic: impersonation}}")
    code, lines = validate(make_app, workspace, "--today", "2026-12-08")
    assert code == 0, lines
    line = workspace.line_of(FLOW, "set: {topic: impersonation}}")
    assert any(l.startswith(f"{FLOW}:{line}: warning: button 'impersonation' of state 'what' "
                            "has no 'to'") for l in lines), lines


def test_hours_written_backwards_are_a_warning(make_app, workspace):
    """mon-fri: 17:00-09:00 for a 9-to-5 desk was accepted, and the desk shown open all night."""
    workspace.edit("contacts.yaml", "mon-fri: 09:00-21:00", "mon-fri: 21:00-09:00")
    code, lines = validate(make_app, workspace, "--today", "2026-11-22")
    assert code == 0, lines
    assert any(": warning: " in l and "hours 21:00-09:00 run past midnight" in l
               and "write 09:00-21:00" in l for l in lines), lines
    workspace.edit("contacts.yaml", "      mon-fri: 21:00-09:00",
                   "      mon-fri: 21:00-09:00\n      overnight: true")
    code, lines = validate(make_app, workspace, "--today", "2026-11-22")
    assert not any("run past midnight" in l for l in lines), lines  # meant: a night line


def test_a_none_word_that_turns_a_listed_crisis_into_a_question_is_a_warning(make_app, workspace):
    """An editor who adds 学校 to a crisis rule's none silently lowers recall: 学校がつらい。死にたい
    is then only asked about, and the model is held back too."""
    workspace.edit("keywords.yaml", "       昔 + は, 以前 + は, こたつ, 炬燵,",
                   "       昔 + は, 以前 + は, こたつ, 炬燵, 学校,")
    code, lines = validate(make_app, workspace, "--today", "2026-11-22")
    assert code == 0, lines
    assert any(l.startswith("examples/crisis.yaml:") and ": warning: " in l
               and "the 'none' word '学校' of rule 'crisis_sure'" in l for l in lines), lines


def test_a_check_dated_in_the_future_is_a_warning(make_app, workspace):
    workspace.edit("contacts.yaml", "  - id: police_9110", "  - id: police_9110  # edited")
    text = (workspace.root / "contacts.yaml").read_text(encoding="utf-8")
    at = text.index("  - id: police_9110  # edited")
    verified = text.index("verified_on:", at)
    end = text.index("\n", verified)
    (workspace.root / "contacts.yaml").write_text(
        text[:verified] + "verified_on: 2027-12-01" + text[end:], encoding="utf-8")
    code, lines = validate(make_app, workspace, "--today", "2026-12-08")
    assert code == 0, lines
    assert any(": warning: " in l and "'police_9110' was verified on 2027-12-01, a day still to come"
               in l for l in lines), lines


def test_a_topic_without_any_window_open_at_night_is_a_warning(make_app, workspace):
    (workspace.root / "contacts.yaml").write_text("""contacts:
  - id: day_only
    name: 昼だけの窓口
    operator: 見本
    summary: 平日の昼だけ受け付けます。
    phones:
      - {number: 0570-003-110, toll: navi}
    topics: [defamation]
    wants: [delete]
    alerts: [danger, crisis]
    hours: {mon-fri: 08:30-17:15, closed: [holidays, year_end]}
    source: https://example.org/
    verified_on: 2026-11-01
""", encoding="utf-8")
    code, lines = validate(make_app, workspace, "--today", "2026-11-22")
    assert code == 0, lines
    assert "contacts.yaml:1: warning: no window open 24 hours or on the web matches topic " \
           "'defamation': at night such a person is shown only closed windows" in lines
    assert any("matches want 'talk'" in l for l in lines)
