"""The simulator: the real engine in a real browser, and closed where it must be."""
from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server



def local_app(make_app, workspace, **extra):
    """The app as on a developer's machine: no LINE channel configured."""
    return make_app(LINE_CHANNEL_SECRET=None, LINE_CHANNEL_ACCESS_TOKEN=None,
                    RELOAD_SECONDS=0.3, **workspace.config, **extra)


def test_on_locally_without_login(make_app, workspace):
    client = local_app(make_app, workspace).test_client()
    assert client.get("/simulator").status_code == 200
    view = client.post("/simulator/api/turn", json={"kind": "follow",
                                                     "at": "2026-11-24T10:00+09:00"}).get_json()
    assert "弁護士や警察ではありません" in view["messages"][0]
    assert [b["label"] for b in view["buttons"]][0] == "自分のこと" and view["state"] == "start"


def test_off_in_production_unless_enabled_behind_a_login(make_app, workspace):
    production = make_app(**workspace.config)  # a LINE channel is configured
    assert production.test_client().get("/simulator").status_code == 404
    no_password = make_app(SIMULATOR="on", **workspace.config)
    assert no_password.test_client().get("/simulator").status_code == 404
    guarded = make_app(SIMULATOR="on", SIMULATOR_PASSWORD="s3cret-words", **workspace.config)
    client = guarded.test_client()
    assert client.get("/simulator").status_code == 401
    assert client.post("/simulator/api/turn", json={"kind": "follow"}).status_code == 401
    wrong = {"Authorization": "Basic " + __import__("base64").b64encode(b"editor:guess").decode()}
    assert client.get("/simulator", headers=wrong).status_code == 401
    right = {"Authorization": "Basic " + __import__("base64").b64encode(b"editor:s3cret-words").decode()}
    assert client.get("/simulator", headers=right).status_code == 200


def test_api_takes_json_only_and_bad_times_are_refused(make_app, workspace):
    client = local_app(make_app, workspace).test_client()
    assert client.post("/simulator/api/turn", data={"kind": "follow"}).status_code == 415
    bad = client.post("/simulator/api/turn", json={"kind": "follow", "at": "明日の朝"})
    assert bad.status_code == 400 and "ISO-8601" in bad.get_json()["error"]


def test_reset_deletes_the_simulated_conversation(make_app, workspace):
    app = local_app(make_app, workspace)
    client = app.test_client()
    client.post("/simulator/api/turn", json={"kind": "follow"})
    client.post("/simulator/api/turn", json={"kind": "text", "text": "自分"})
    with client.session_transaction() as sess:
        key = f"local:{sess['sim_id']}"
    store = app.extensions["bot"].store
    assert store.load(key).answers == {"audience": "self"}
    client.post("/simulator/api/reset", json={})
    assert store.load(key) is None


@pytest.fixture
def live_server(make_app, workspace):
    app = local_app(make_app, workspace)
    app.extensions["bot"].start()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()




def bot_bubbles(page):
    return page.locator(".bubble.bot").all_inner_texts()


def test_an_editor_tries_a_conversation_in_the_browser(live_server, browser, workspace, tmp_path):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{live_server}/simulator")
    page.get_by_text("弁護士や警察ではありません", exact=False).wait_for()
    page.locator("#quick button", has_text="自分のこと").click()
    page.get_by_text("18歳未満ですか", exact=False).wait_for()
    assert page.locator("#state").inner_text() == "age"

    page.fill("#text", "18歳以上")
    page.press("#text", "Enter")
    page.locator("#state", has_text="what").wait_for()

    page.uncheck("#now")
    page.fill("#clock", "2026-11-23T10:00")  # a national holiday
    page.fill("#text", "SNSで悪口を書かれた")
    page.press("#text", "Enter")
    page.locator("#state", has_text="want").wait_for()
    assert "「悪口・デマを書かれた」として進めます" in bot_bubbles(page)[-2]
    page.locator("#quick button", has_text="書き込みを消したい").click()
    page.locator("#state", has_text="advice").wait_for()
    page.locator("#quick button", has_text="合う相談窓口を見る").click()
    page.locator("#state", has_text="windows").wait_for()

    assert page.locator('.window[data-id="moj_jinken110"]').inner_text() == "moj_jinken110: 時間外"
    assert page.locator('.window[data-id="sia_hotline"]').inner_text() == "sia_hotline: 受付中"
    assert '"topic": "defamation"' in page.locator("#answers").inner_text()
    assert page.locator("#fired").inner_text() == "button:advice.windows"
    assert any("時間外・次は明日 8:30から" in b for b in bot_bubbles(page))  # a card's badge
    assert page.locator("#quick button").all_inner_texts() == ["すべての窓口を見る", "最初から",
                                                               "スタッフと話したい"]
    page.screenshot(path=os.environ.get("SIMULATOR_SHOT", str(tmp_path / "simulator.png")), full_page=True)

    before = len(bot_bubbles(page))
    page.fill("#text", "もう死にたい")
    page.press("#text", "Enter")
    page.locator("#fired", has_text="interrupt:crisis").wait_for()
    assert bot_bubbles(page)[before].startswith("話してくださって、ありがとうございます")

    workspace.edit("contacts.yaml", "mon-fri: 09:00-21:00", "mon-fri: 9時から21時")
    line = workspace.line_of("contacts.yaml", "9時から21時")
    page.locator("#errors", has_text=f"contacts.yaml:{line}: hours").wait_for(timeout=10000)
    assert page.locator("#quick button").all_inner_texts() == ["相談を続ける", "スタッフと話したい"]
    page.fill("#text", "最初から")  # the previous content still runs
    page.press("#text", "Enter")
    page.locator("#state", has_text="start").wait_for()


def test_on_a_390_px_phone_the_windows_are_a_carousel_that_calls_with_one_tap(
        live_server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{live_server}/simulator")
    page.uncheck("#now")
    page.fill("#clock", "2026-11-24T10:00")  # a weekday morning
    # Answer with the buttons inside the messages, as on LINE for PC (no quick replies there).
    for label in ("自分のこと", "18歳以上", "悪口・デマを書かれた", "書き込みを消したい", "合う相談窓口を見る"):
        page.locator(".bubble.flex").last.locator("button.flex-button", has_text=label).click()
        page.locator("#state").filter(has_not_text="-").wait_for()
        page.wait_for_function("(l) => [...document.querySelectorAll('#log .me')].some("
                               "(e) => e.textContent === l)", arg=label)
    page.locator("#state", has_text="windows").wait_for()
    carousel = page.locator(".bubble.flex.carousel").last
    call = carousel.locator("a.flex-button", has_text="電話する").first
    assert call.get_attribute("href") == "tel:0570003110"
    assert carousel.locator("a.flex-button", has_text="サイトを見る").first.get_attribute(
        "href").startswith("https://")
    assert "受付中" in carousel.inner_text() and "みんなの人権110番" in carousel.inner_text()
    page.screenshot(path=os.environ.get("SIMULATOR_SHOT_PHONE", str(tmp_path / "phone.png")))
    widths = page.evaluate("""() => ({page: document.documentElement.scrollWidth,
        phone: document.getElementById('phone').scrollWidth,
        phoneBox: document.getElementById('phone').clientWidth,
        log: document.getElementById('log').scrollWidth,
        logBox: document.getElementById('log').clientWidth})""")
    assert widths["page"] <= 390 and widths["phone"] <= widths["phoneBox"], widths
    assert widths["log"] <= widths["logBox"], widths  # only the carousel scrolls sideways
    for button in page.locator("#quick button").all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (button.inner_text(), box)

    page.fill("#text", "もう死にたい")
    page.press("#text", "Enter")
    page.locator("#fired", has_text="interrupt:crisis").wait_for()
    lines = page.locator(".bubble.flex.carousel").last
    assert lines.locator("a.flex-button").first.get_attribute("href") == "tel:0120279338"
    page.screenshot(path=os.environ.get("SIMULATOR_SHOT_CRISIS", str(tmp_path / "crisis.png")),
                    full_page=True)
