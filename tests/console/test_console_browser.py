"""End to end in a real browser: a person reaches a human on LINE, and is given back to the bot."""
from __future__ import annotations

import os

from bot.channels.line.plain import message_text

from ..line_fake import PUSH, REPLY
from .conftest import PASSWORDS, STAFF_HOURS, Person


def test_person_reaches_a_human_and_back(bot, line_api, console_url, browser, tmp_path):
    # 1-2. A conversation through signed webhook events, and a request for a human.
    person = Person(bot, line_api, STAFF_HOURS)
    person.asks_for_staff()
    handoff = bot.extensions["bot"].store.handoffs.queue()[0]

    # 3. An operator logs in.
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{console_url}/console")
    assert "/console/login" in page.url
    page.fill('input[name="name"]', "alice")
    page.fill('input[name="password"]', PASSWORDS["alice"])
    page.click('button[type="submit"]')

    # 4. The conversation is in the queue; a second request appears without a reload.
    row = page.locator(f'tr[data-id="{handoff.id}"]')
    row.wait_for()
    assert "待機中" in row.inner_text() and "相談者 #" in row.inner_text()
    other = Person(bot, line_api, STAFF_HOURS, user_id="U" + "6" * 32)
    other.asks_for_staff()
    page.locator("#rows tr").nth(1).wait_for(timeout=10000)
    if os.environ.get("QUEUE_SHOT"):
        page.screenshot(path=os.environ["QUEUE_SHOT"])
    row.locator("a", has_text="開く").click()
    page.locator("#claim").click()
    page.get_by_text("aliceさんが対応中").wait_for()
    replies_at_claim = len(line_api.requests(REPLY))

    # 7. While claimed, the person's words reach staff (live) and the bot says nothing.
    sent_before = person.sent()
    person.line.post(person.line.text("学校のことで悩んでいます"))
    page.locator("#transcript .line.in", has_text="学校のことで悩んでいます").wait_for(timeout=10000)
    assert person.sent() == sent_before

    # 5-6. The operator replies; the fake Messaging API receives the push.
    page.fill("#reply", "スタッフの鈴木です。くわしく教えていただけますか。")
    page.locator("#send").click()
    body, headers = line_api.wait_for(PUSH, 1)[0]
    assert body["to"] == person.line.user_id
    assert message_text(body["messages"][0]) == "スタッフの鈴木です。くわしく教えていただけますか。"
    assert headers["X-Line-Retry-Key"]
    page.locator("#transcript .line.staff", has_text="スタッフの鈴木です").wait_for()
    page.screenshot(path=os.environ.get("CONSOLE_SHOT", str(tmp_path / "console.png")), full_page=True)

    # 7 (again). Nothing of the bot's own was sent while staff had the conversation.
    assert person.sent() == sent_before + 1  # the staff reply, and nothing else
    assert len(line_api.requests(REPLY)) == replies_at_claim

    # 8. Returned: the person is told, and the bot resumes from the start.
    page.locator("#return").click()
    page.wait_for_url(f"{console_url}/console")
    returned = line_api.wait_for(PUSH, 2)[1][0]["messages"]
    assert message_text(returned[0]).startswith("スタッフとのやり取りが終わりました")
    assert person.says("自分のことです")[-1] == "被害にあっている方は、18歳未満ですか？"
    actions = [r.action for r in bot.extensions["bot"].store.handoffs.audit_log()
               if r.operator == "alice"]
    assert actions[:4] == ["logged_in", "viewed", "claimed", "viewed"] and "returned" in actions
