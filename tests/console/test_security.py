"""The console is closed to strangers, forged forms and guessing; claims never collide."""
from __future__ import annotations

import re
import threading
import time

import pytest
from werkzeug.security import generate_password_hash

from .conftest import PASSWORDS, claimed, csrf_token, login, post

SAMPLE_ARGS = {"handoff_id": 1, "line_id": 1, "how": "returned"}


def console_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/console") and rule.endpoint != "console_auth.login":
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: str(SAMPLE_ARGS.get(m.group(1), 1)),
                          rule.rule).replace("<any(returned, closed):how>", "returned")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield method, path


def test_every_console_route_needs_a_login(bot):
    client = bot.test_client()
    routes = list(console_routes(bot))
    assert len(routes) >= 12
    for method, path in routes:
        token = csrf_token(client, "/console/login")  # a valid token: only the login is missing
        resp = client.open(path, method=method, data={"csrf_token": token, "text": "x"})
        assert resp.status_code == 302, (method, path, resp.status_code)
        assert "/console/login" in resp.headers["Location"], (method, path)
    assert client.get("/console/login").status_code == 200


def test_a_post_without_csrf_token_is_refused(bot, person):
    person.asks_for_staff()
    alice = login(bot, "alice")
    hid = bot.extensions["bot"].store.handoffs.queue()[0].id
    resp = alice.post(f"/console/c/{hid}/claim", data={})
    assert resp.status_code == 400
    assert bot.extensions["bot"].store.handoffs.get(hid).status == "waiting"
    forged = alice.post(f"/console/c/{hid}/claim", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    fresh = bot.test_client()
    assert fresh.post("/console/login", data={"name": "alice", "password": PASSWORDS["alice"]}).status_code == 400


def test_passwords_are_stored_hashed_with_a_current_algorithm(bot):
    operator = bot.extensions["bot"].store.operators.by_name("alice")
    assert operator.password_hash.startswith("scrypt:") and PASSWORDS["alice"] not in operator.password_hash


def test_failed_logins_are_rate_limited_even_for_the_right_password_after(bot):
    client = bot.test_client()
    for _ in range(5):
        token = csrf_token(client, "/console/login")
        assert client.post("/console/login", data={"name": "alice", "password": "guess",
                                                    "csrf_token": token}).status_code == 401
    token = csrf_token(client, "/console/login")
    right = client.post("/console/login", data={"name": "alice", "password": PASSWORDS["alice"],
                                                "csrf_token": token})
    assert right.status_code == 429 and "しばらく受け付けません" in right.get_data(as_text=True)
    assert login(bot, "bob", ip="10.1.2.3")  # another operator elsewhere is not locked out


def idle(app, minutes: float) -> None:
    """Make every console session look idle for `minutes`, as the clock would."""
    from bot.store.schema import console_sessions
    with app.extensions["bot"].store.engine.begin() as conn:
        conn.execute(console_sessions.update().values(seen_at=time.time() - minutes * 60))


def test_an_idle_session_expires_on_the_server(bot):
    alice = login(bot, "alice")
    assert alice.get("/console").status_code == 200
    idle(bot, 31)
    resp = alice.get("/console")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    assert alice.get("/console").status_code == 302  # and stays logged out


def test_another_operators_conversation_needs_an_explicit_takeover(bot, person, line_api):
    person.asks_for_staff()
    alice, bob = login(bot, "alice"), login(bot, "bob")
    hid = bot.extensions["bot"].store.handoffs.queue()[0].id
    page = f"/console/c/{hid}"
    post(alice, f"{page}/claim", page)
    for action, data in (("reply", {"text": "横から失礼します"}), ("returned", {}), ("closed", {})):
        assert post(bob, f"{page}/{action}", page, **data).status_code == 409
    assert post(bob, f"{page}/claim", page).status_code == 409
    assert line_api.requests("/v2/bot/message/push") == []
    assert "引き継ぐ" in bob.get(page).get_data(as_text=True)
    assert post(bob, f"{page}/takeover", page).status_code == 302
    store = bot.extensions["bot"].store.handoffs
    assert store.get(hid).claimed_by == "bob"
    took = [r for r in store.audit_log() if r.action == "took_over"]
    assert len(took) == 1 and took[0].operator == "bob" and took[0].detail == "from alice"
    assert post(alice, f"{page}/reply", page, text="まだ私が").status_code == 409


def test_the_audit_log_records_who_did_what_without_text(bot, person):
    person.asks_for_staff()
    alice, page = claimed(bot)
    post(alice, f"{page}/reply", page, text="秘密の返信内容")
    post(alice, f"{page}/note", page, text="秘密のメモ")
    post(alice, f"{page}/returned", page)
    actions = [(r.operator, r.action) for r in bot.extensions["bot"].store.handoffs.audit_log()]
    for expected in [(None, "requested"), ("alice", "viewed"), ("alice", "claimed"),
                     ("alice", "replied"), ("alice", "noted"), ("alice", "returned")]:
        assert expected in actions
    html = alice.get("/console/audit").get_data(as_text=True)
    assert "秘密" not in html
    cells = re.findall(r"<td>([^<]*)</td>", html)  # in Japanese, never the stored action names
    for label in ("ログイン", "閲覧", "対応開始", "返信", "メモ", "ボットに戻した", "スタッフへの取り次ぎ依頼",
                  "優先度: 通常"):
        assert label in cells, label
    assert not {"logged_in", "viewed", "claimed", "replied", "noted", "returned", "requested"} & set(cells)


def test_operators_see_no_line_id_or_display_name_by_default(bot, person):
    person.asks_for_staff()
    alice = login(bot, "alice")
    queue = alice.get("/console/api/queue").get_json()
    page = alice.get(queue[0]["url"]).get_data(as_text=True)
    assert person.line.user_id not in page and person.line.user_id not in str(queue)
    assert queue[0]["person"].startswith("相談者 #")


@pytest.mark.parametrize("n", [2, 6])
def test_only_one_of_several_operators_claiming_at_once_gets_it(make_app, database, n):
    app = make_app(DATABASE_URL=database)
    store = app.extensions["bot"].store
    for i in range(n):
        store.operators.create(f"op{i}", generate_password_hash("x" * 12))
    handoff, _ = store.handoffs.request("line:U" + "9" * 32, 0)
    desk = app.extensions["bot"].desk
    results, barrier = {}, threading.Barrier(n)

    def claim(name):
        barrier.wait()
        results[name] = desk.claim(handoff, name)

    threads = [threading.Thread(target=claim, args=(f"op{i}",)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == ["claimed"] + ["held"] * (n - 1)
    winner = next(k for k, v in results.items() if v == "claimed")
    assert store.handoffs.get(handoff.id).claimed_by == winner
    assert [r.operator for r in store.handoffs.audit_log() if r.action == "claimed"] == [winner]
