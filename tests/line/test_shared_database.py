"""Several servers sharing one database: each event handled once, in order."""
from __future__ import annotations

import threading
import time

from ..line_fake import PUSH, REPLY, LineUser


def test_two_servers_on_one_database_handle_each_event_once(make_app, line_api, database):
    apps = [make_app(DATABASE_URL=database, DISPATCH_THREADS=2) for _ in range(2)]
    users = [LineUser(apps[0].test_client(), apps[0].config["LINE_CHANNEL_SECRET"],
                      user_id="U" + str(n) * 32) for n in range(1, 4)]
    for u in users:
        u.post(u.follow())
    line_api.wait_for(REPLY, 3)
    line_api.delay[REPLY] = 0.1
    steps = ["自分", "つきまとい", "戻る", "悪口"]
    events = {u.user_id: [u.text(s) for s in steps] for u in users}

    def send(u: LineUser) -> None:  # each message lands on either server
        for i, ev in enumerate(events[u.user_id]):
            u.post(ev, client=apps[i % 2].test_client())

    threads = [threading.Thread(target=send, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bodies = [b for b, _ in line_api.wait_for(REPLY, 3 + 12, timeout=20)]
    tokens = [b["replyToken"] for b in bodies]
    assert len(tokens) == len(set(tokens)) == 15  # nothing twice
    for u in users:
        mine = [t for t in tokens if t in {e["replyToken"] for e in events[u.user_id]}]
        assert mine == [e["replyToken"] for e in events[u.user_id]]  # in order
        conv = apps[1].extensions["bot"].store.load(f"line:{u.user_id}")
        assert conv.answers == {"audience": "self", "topic": "defamation"}


def test_an_answer_slower_than_the_lease_is_not_sent_again_by_another_server(make_app,
                                                                              line_api, caplog):
    """The lease is renewed while LINE takes its time to answer: the other server, which
    looks at the inbox five times a second, must not take the conversation and send again."""
    apps = [make_app(DISPATCH_THREADS=1, DISPATCH_LEASE_SECONDS=1.5) for _ in range(2)]
    apps[1].extensions["bot"].start()  # the other server: polling, never nudged
    user = LineUser(apps[0].test_client(), apps[0].config["LINE_CHANNEL_SECRET"])
    first = user.follow()
    user.post(first)  # answered at once: everything is loaded
    line_api.wait_for(REPLY, 1)
    line_api.delay[REPLY] = 4.5  # three leases long
    slow = user.text("自分")
    user.post(slow)
    line_api.wait_for(REPLY, 2)
    deadline = time.time() + 10
    while len(line_api.delivered()) < 2 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # a second try would have come by now
    tokens = [b["replyToken"] for b, _ in line_api.requests(REPLY)]
    assert tokens == [first["replyToken"], slow["replyToken"]]
    assert line_api.requests(PUSH) == []
    assert "lease of a conversation was lost" not in caplog.text
