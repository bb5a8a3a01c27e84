"""Deleting a person leaves no trace of their LINE id; pseudonyms need the secret."""
from __future__ import annotations

import hashlib

from sqlalchemy import text

from bot import config

from ..helpers import wait_until
from ..line_fake import REPLY, LineUser


def everything(store) -> str:
    """Every row of every table, as text."""
    out = []
    with store.engine.connect() as conn:
        for table in ("conversations", "inbox", "handoffs", "messages", "audit", "outbox",
                      "local_messages"):
            out += [repr(tuple(r)) for r in conn.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(out)


def asked(make_app, line_api, database, text):
    """A person who followed and wrote `text`; the store, the person, and the buttons offered."""
    app = make_app(DATABASE_URL=database, FLOWS_DIR=config.DEFAULTS["FLOWS_DIR"],
                   SECRET_KEY="a-secret-for-pseudonyms")
    user = LineUser(app.test_client(), app.config["LINE_CHANNEL_SECRET"])
    user.post(user.follow())
    line_api.wait_for(REPLY, 1)
    user.post(user.text(text))
    items = line_api.wait_for(REPLY, 2)[1][0]["messages"][-1]["quickReply"]["items"]
    return app.extensions["bot"].store, user, items


def test_deletion_leaves_no_trace_of_the_line_id(make_app, line_api, database):
    store, user, items = asked(make_app, line_api, database, "人と話したい")
    user.post(user.tap(items[0]["action"]["data"]))  # 切り替える: a handoff, audited
    line_api.wait_for(REPLY, 3)
    assert user.user_id in everything(store)
    user.post(user.event("unfollow", reply_token=None))
    assert wait_until(lambda: user.user_id not in everything(store), timeout=10), everything(store)
    deleted = [r for r in store.handoffs.audit_log() if r.action == "deleted"]
    assert len(deleted) == 1
    unsalted = hashlib.sha256(f"line:{user.user_id}".encode()).hexdigest()[:16]
    assert unsalted not in deleted[0].conv_key  # not linkable by whoever holds the id
    redelivered = user.follow()
    assert user.post(redelivered).status_code == 200  # a new conversation starts cleanly
    assert line_api.wait_for(REPLY, 4)


def test_asking_to_delete_is_answered_that_it_is_done(make_app, line_api, database):
    """After データを削除 and 削除する, someone hiding their use of the bot must see that it
    worked: the answer reaches LINE although everything stored for them is gone."""
    store, user, items = asked(make_app, line_api, database, "データを削除")
    assert items[0]["action"]["label"] == "削除する"
    user.post(user.tap(items[0]["action"]["data"]))
    done = line_api.wait_for(REPLY, 3)[2][0]["messages"]
    assert any("記録をすべて削除しました" in m.get("text", "") for m in done), done
    assert wait_until(lambda: user.user_id not in everything(store), timeout=10)
