"""The console on a phone (390 px wide): nothing breaks mid-word, nothing runs off the side."""
from __future__ import annotations

import os

from .conftest import PASSWORDS, STAFF_HOURS, Person, claimed, post

PHONE = {"width": 390, "height": 844}
LONG_URL = "https://example.com/" + "very-long-path-segment-" * 12 + "?q=" + "x" * 80


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def lines_of(page, selector: str) -> list[tuple[str, int]]:
    """For each element: its text and how many lines it takes (its client rects, one per line)."""
    return page.eval_on_selector_all(selector, """els => els.map(e => {
        const r = document.createRange(); r.selectNodeContents(e);
        const tops = new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top)));
        return [e.innerText.trim(), tops.size]; })""")


def log_in(page, base: str) -> None:
    page.goto(f"{base}/console")
    page.fill('input[name="name"]', "alice")
    page.fill('input[name="password"]', PASSWORDS["alice"])
    page.click('button[type="submit"]')


def test_the_console_fits_a_phone(bot, line_api, console_url, browser, tmp_path):
    for n in range(2):  # two waiting people, one of whom sends a long URL once claimed
        Person(bot, line_api, STAFF_HOURS, user_id="U" + str(7 + n) * 32).asks_for_staff()
    page = browser.new_page(viewport=PHONE)
    log_in(page, console_url)
    page.locator("#rows tr[data-id]").nth(1).wait_for()

    assert page_width(page) <= PHONE["width"]
    for text, lines in lines_of(page, "header strong, header a, header #me, header button"):
        assert lines == 1, f"header item {text!r} breaks over {lines} lines"
    for text, lines in lines_of(page, "#rows td"):
        assert lines <= 1 or len(text) > 12, f"queue cell {text!r} wraps over {lines} lines"
    page.screenshot(path=os.environ.get("PHONE_QUEUE_SHOT", str(tmp_path / "queue.png")), full_page=True)

    handoff = bot.extensions["bot"].store.handoffs.queue()[0]
    client, url = claimed(bot)
    post(client, f"{url}/reply", url, text=f"こちらをご覧ください {LONG_URL}")
    page.goto(f"{console_url}/console/c/{handoff.id}")
    page.locator("#transcript .line.staff").wait_for()
    assert page_width(page) <= PHONE["width"], "a long URL widens the conversation page"
    for text, lines in lines_of(page, "header strong, header a, #claim, #takeover, .meta"):
        assert lines == 1, f"{text!r} breaks over {lines} lines"
    page.screenshot(path=os.environ.get("PHONE_CONVERSATION_SHOT",
                                        str(tmp_path / "conversation.png")), full_page=True)

    page.goto(f"{console_url}/console/audit")
    assert page_width(page) <= PHONE["width"]
