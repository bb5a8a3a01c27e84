"""The Procfile's worker: the processes that answer what the web processes stored.

Real processes over real HTTP: gunicorn in standby mode takes the webhooks,
`flask --app bot work` answers them through the fake Messaging API.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import time

from .line_fake import PUSH, REPLY, LineUser, sign
from .conftest import SECRET
from .test_gunicorn import Worker, answering, post, server_env, start, stop

SLOW_POLL = "30"  # seconds: longer than any wait below, so only a wake-up can explain an answer


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def wait_children(pid: int, count: int, timeout: float = 60.0) -> list[int]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = children(pid)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{count} worker processes did not start")


def follow(url: str, user: LineUser) -> str:
    """Post a follow event; return its reply token."""
    event = user.follow()
    body = user.body(event)
    assert post(url, body, sign(body, SECRET)) == 200
    return event["replyToken"]


@contextlib.contextmanager
def web_and_worker(tmp_path, env: dict[str, str]):
    """The Procfile's web and worker processes, both up; stopped afterwards."""
    proc, url, log = start(tmp_path, env)
    worker = Worker(server_env(env), tmp_path / "worker.log")
    try:
        assert answering(proc, url), log.read_text()
        wait_children(worker.proc.pid, 2)
        yield url, worker, log
    finally:
        worker.stop()
        stop(proc)


def test_the_worker_answers_at_once_woken_by_the_database(tmp_path, line_api, database):
    """No poll: SQLite's commit watch or PostgreSQL's NOTIFY wakes the worker processes."""
    env = {"DATABASE_URL": database, "LINE_API_BASE_URL": line_api.url,
           "DISPATCH_POLL_SECONDS": SLOW_POLL}
    with web_and_worker(tmp_path, env) as (url, worker, log):
        time.sleep(2.0)  # the workers' first scan is over: only wake-ups remain
        users = [LineUser(None, SECRET, user_id="U" + format(n, "x") * 32) for n in range(1, 7)]
        started = time.time()
        sent = [follow(url, user) for user in users]
        replies = line_api.wait_for(REPLY, len(users), timeout=20)
        assert time.time() - started < 10  # far sooner than the poll
        assert sorted(b["replyToken"] for b, _ in replies) == sorted(sent)
        worker_log = (tmp_path / "worker.log").read_text()
        handled = set(re.findall(r"\[(\d+)\] INFO bot.handling: event \S+ handled", worker_log))
        assert handled and handled <= set(map(str, children(worker.proc.pid))), worker_log
        assert "handled" not in log.read_text()  # the web processes only stored them
        # ...at a lower CPU priority than the web's (gunicorn's is this process's, which
        # started it): in a surge, the CPU goes to acknowledging LINE first
        web, workers = os.getpriority(os.PRIO_PROCESS, 0), children(worker.proc.pid)
        assert workers and all(os.getpriority(os.PRIO_PROCESS, pid) > web for pid in workers)


def test_a_slow_messaging_api_does_not_keep_other_people_waiting(tmp_path, line_api, database):
    """Every answer waits for LINE's own answer, a tenth of a second or more across the
    internet. The Procfile's worker carries many at once: with a thread or two per process,
    at a busy moment everyone would queue behind the API's answer time."""
    env = {"DATABASE_URL": database, "LINE_API_BASE_URL": line_api.url}
    with web_and_worker(tmp_path, env) as (url, worker, log):
        users = [LineUser(None, SECRET, user_id="U" + format(n, "x").rjust(32, "0"))
                 for n in range(1, 26)]
        follow(url, users.pop())  # answered once the workers have loaded everything
        line_api.wait_for(REPLY, 1, timeout=30)
        line_api.delay[REPLY] = 4.0  # long enough for every reply below to be in flight at once
        sent = [follow(url, user) for user in users]
        line_api.wait_for(REPLY, 1 + len(users), timeout=30)
        assert line_api.most_in_flight[REPLY] >= 16  # (4 with the former 2 threads a process)
        line_api.delay[REPLY] = 0
        deadline = time.time() + 30
        while len(line_api.delivered()) < 1 + len(users) and time.time() < deadline:
            time.sleep(0.05)
        delivered = [b["replyToken"] for b in line_api.delivered()][1:]
        assert sorted(delivered) == sorted(sent)  # each answered once
        # each thread kept its connection to the API (else a TLS handshake per answer)
        assert "pool is full" not in (tmp_path / "worker.log").read_text()


def test_a_message_sent_while_the_last_answer_is_on_its_way_is_answered_next(tmp_path, line_api,
                                                                             database):
    """People often write again before the answer has come. The next message is answered
    as soon as the slow answer is through, not at the next look at the whole inbox."""
    env = {"DATABASE_URL": database, "LINE_API_BASE_URL": line_api.url,
           "DISPATCH_POLL_SECONDS": SLOW_POLL}
    with web_and_worker(tmp_path, env) as (url, worker, log):
        user = LineUser(None, SECRET)
        tokens = [follow(url, user)]
        line_api.wait_for(REPLY, 1, timeout=30)  # the workers have loaded everything
        time.sleep(2.0)  # their first look at the inbox is over: only wake-ups remain
        line_api.delay[REPLY] = 2.0
        for i, text in enumerate(("自分", "つきまとい")):
            event = user.text(text)
            body = user.body(event)
            assert post(url, body, sign(body, SECRET)) == 200
            tokens.append(event["replyToken"])
            if i == 0:
                line_api.wait_for(REPLY, 2, timeout=10)  # its answer is on its way
        started = time.time()
        replies = line_api.wait_for(REPLY, 3, timeout=25)
        assert time.time() - started < 2.0 + 5.0  # the poll would take 30 s
        assert [b["replyToken"] for b, _ in replies] == tokens  # in order


def test_a_killed_worker_is_replaced_and_nothing_is_lost(tmp_path, line_api):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
           "LINE_API_BASE_URL": line_api.url, "DISPATCH_LEASE_SECONDS": "3"}
    proc, url, log = start(tmp_path, env)
    worker = Worker(server_env(env), tmp_path / "worker.log")
    try:
        assert answering(proc, url), log.read_text()
        first = wait_children(worker.proc.pid, 2)
        line_api.delay[REPLY] = 0.5  # answers in flight when the kill comes
        users = [LineUser(None, SECRET, user_id="U" + format(n, "x") * 32) for n in range(1, 9)]
        sent = [follow(url, user) for user in users]
        line_api.wait_for(REPLY, 1)
        os.kill(first[0], signal.SIGKILL)
        deadline = time.time() + 30
        while first[0] in children(worker.proc.pid) or len(children(worker.proc.pid)) < 2:
            assert time.time() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
        line_api.wait_for(REPLY, len(users), timeout=45)
        time.sleep(1.0)
        # A reply in flight at the kill is tried again by the replacement; LINE refuses
        # the spent token (400), which counts as delivered. What LINE took is what counts.
        tokens = [b["replyToken"] for b in line_api.delivered()]
        assert sorted(tokens) == sorted(sent)  # none lost, none doubled
        assert line_api.requests(PUSH) == []  # a refused repeat is not pushed instead
        assert "exited (signal 9); starting another" in (tmp_path / "worker.log").read_text()
    finally:
        worker.stop()
        stop(proc)
    assert worker.proc.returncode == 0
    assert children(worker.proc.pid) == []


def test_without_a_worker_the_web_answers_late_and_says_why(tmp_path, line_api):
    """Someone deployed only the web process: nobody is left unanswered, and the log tells."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
           "LINE_API_BASE_URL": line_api.url, "DISPATCH_STANDBY_SECONDS": "2"}
    proc, url, log = start(tmp_path, env)
    try:
        assert answering(proc, url), log.read_text()
        user = LineUser(None, SECRET)
        started = time.time()
        follow(url, user)
        time.sleep(1.0)
        assert line_api.requests(REPLY) == []  # standby: left for a worker at first
        line_api.wait_for(REPLY, 1, timeout=20)
        assert time.time() - started >= 2.0
        assert "waited over 2 s for a worker process" in log.read_text()
    finally:
        stop(proc)


def test_worker_shares_split_the_conversations_between_processes(make_app):
    """With --processes N every worker hears every NOTIFY; each takes only its share, so
    they do not all race for each event (that doubled the CPU an event cost). The
    end-to-end tests above show the wake-ups reach the right process."""
    app = make_app()
    dispatcher = app.extensions["bot"].dispatcher
    keys = [f"line:U{n:032x}" for n in range(300)]
    shares = []
    for index in range(3):
        dispatcher.shard = (index, 3)
        shares.append({k for k in keys if dispatcher._mine(k)})
    assert sum(map(len, shares)) == len(keys) and set().union(*shares) == set(keys)
    assert all(len(share) > 50 for share in shares)  # spread, not all on one
    dispatcher.shard = None
    assert all(dispatcher._mine(k) for k in keys)


def backlog(store, people: range, received: float) -> list[str]:
    """A message from each of `people` waiting in the inbox (as when the workers were
    down), received at `received`; their reply tokens."""
    from .store.test_store import queued

    events = []
    for n in people:
        ev = queued(f"E{n}", key=f"line:U{n:032x}")
        ev.delivery = {"reply_token": f"token-{n}"}
        events.append(ev)
    store.enqueue(events, now=received)
    return [f"token-{n}" for n in people]


def counting_decisions(app) -> list:
    """What this app's engine was asked to decide (the desk's view), one entry per decision."""
    engine = app.extensions["bot"].dispatcher.handler.engine()
    decided, handle = [], engine.handle

    def counted(conv, inbound, view):
        decided.append(view)
        return handle(conv, inbound, view)

    engine.handle = counted
    return decided


def test_sharing_processes_answer_a_backlog_deciding_each_message_once(make_app, line_api,
                                                                       database):
    """Two worker processes found the same backlog in their scans and both decided every
    message: one answer went out, the other decision was refused at its write, and the
    CPU each message cost doubled just when it was scarcest. Sharing the conversations,
    each process takes its own share of what its scans find."""
    apps = [make_app(DATABASE_URL=database) for _ in range(2)]
    tokens = backlog(apps[0].extensions["bot"].store, range(40), time.time())
    decided = [counting_decisions(app) for app in apps]
    for index, app in enumerate(apps):
        dispatcher = app.extensions["bot"].dispatcher
        dispatcher.mode = "worker"
        dispatcher.shard = (index, 2)
        dispatcher.start()
    line_api.wait_for(REPLY, len(tokens), timeout=30)
    time.sleep(0.5)  # (a second answer to anyone would have come by now)
    replied = [b["replyToken"] for b, _ in line_api.requests(REPLY)]
    assert sorted(replied) == sorted(tokens)  # everyone answered, once
    assert len(decided[0]) + len(decided[1]) == len(tokens)  # and each message decided once
    assert decided[0] and decided[1]  # both processes worked


def test_a_sibling_process_that_is_stuck_is_covered_after_a_while(make_app, line_api):
    """A process that keeps up with its own share takes the conversations of another
    process's share that have waited SIBLING_AFTER seconds: a sibling stuck while alive
    delays its people, not for ever. Fresh ones are left to the sibling."""
    from bot.dispatch import SIBLING_AFTER

    app = make_app()
    dispatcher = app.extensions["bot"].dispatcher
    dispatcher.mode = "worker"
    dispatcher.shard = (0, 2)
    store = app.extensions["bot"].store
    old = backlog(store, range(6), time.time() - SIBLING_AFTER - 5)
    fresh = backlog(store, range(100, 120), time.time())
    mine = {f"token-{n}" for n in range(100, 120) if dispatcher._mine(f"line:U{n:032x}")}
    assert 0 < len(mine) < len(fresh)
    assert any(not dispatcher._mine(f"line:U{n:032x}") for n in range(6))  # a sibling's too
    dispatcher.start()
    line_api.wait_for(REPLY, len(old) + len(mine), timeout=30)
    time.sleep(1.0)  # five polls more
    replied = {b["replyToken"] for b, _ in line_api.requests(REPLY)}
    assert set(old) <= replied  # all of them, the sibling's share too
    assert replied - set(old) == mine  # of the fresh ones, its own share only


def test_processes_that_are_both_behind_do_not_race_for_old_messages(make_app, line_api):
    """Long behind (a surge, or the workers down for a while), both processes' shares have
    waited SIBLING_AFTER: each keeps to its own rather than deciding the other's too."""
    from bot.dispatch import SIBLING_AFTER

    app = make_app()
    dispatcher = app.extensions["bot"].dispatcher
    dispatcher.mode = "worker"
    dispatcher.shard = (0, 2)
    backlog(app.extensions["bot"].store, range(30), time.time() - SIBLING_AFTER - 5)
    dispatcher._scan()
    assert dispatcher._ready and all(dispatcher._mine(k) for k in dispatcher._ready)


def test_a_stuck_siblings_people_wait_two_minutes_at_most(make_app):
    """Even while this process's own share looks late (one of its people waits for the
    retry of an answer, say), a sibling's conversation due for SIBLING_LATEST is taken:
    a sibling stuck while alive says it is alive, so no one else would step in."""
    from bot.dispatch import SIBLING_AFTER, SIBLING_LATEST

    app = make_app()
    dispatcher = app.extensions["bot"].dispatcher
    dispatcher.mode = "worker"
    dispatcher.shard = (0, 2)
    store = app.extensions["bot"].store
    key = lambda n: f"line:U{n:032x}"  # noqa: E731
    backlog(store, range(10), time.time() - SIBLING_AFTER - 5)         # late, both shares
    backlog(store, range(100, 110), time.time() - SIBLING_LATEST - 5)  # very late, both
    dispatcher._scan()
    mine = {key(n) for n in [*range(10), *range(100, 110)] if dispatcher._mine(key(n))}
    very_late_siblings = {key(n) for n in range(100, 110) if not dispatcher._mine(key(n))}
    assert mine and very_late_siblings
    assert set(dispatcher._ready) == mine | very_late_siblings


def test_taking_a_share_leaves_the_siblings_conversations_to_it(make_app):
    """Before all the processes are up, each one's scan finds every conversation; once
    they share, a sibling's are dropped here (its own scan finds them), not raced for."""
    app = make_app()
    dispatcher = app.extensions["bot"].dispatcher
    dispatcher.mode = "worker"
    backlog(app.extensions["bot"].store, range(30), time.time())
    dispatcher._scan()
    everyone = set(dispatcher._ready)
    assert len(everyone) == 30
    dispatcher.shard = (1, 2)
    assert set(dispatcher._ready) == {k for k in everyone if dispatcher._mine(k)}
    assert 0 < len(dispatcher._ready) < 30


def test_a_worker_without_the_line_channel_refuses_to_start(make_app):
    """Configured apart from the web process and missing the credentials, it would mark
    every LINE event failed, unanswered, while saying it is alive."""
    app = make_app(LINE_CHANNEL_ACCESS_TOKEN=None)
    result = app.test_cli_runner().invoke(args=["work"])
    assert result.exit_code == 2
    assert "LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN must be set" in result.output
    assert app.extensions["bot"].started is False


SUPERVISOR = """
import logging, sys, time, types
from bot.cli import work

logging.basicConfig(level=logging.INFO)


class Services:  # only what `run` and `supervise` touch
    dispatcher = types.SimpleNamespace(mode=None, shard=None, threads=1)
    store = types.SimpleNamespace(engine=types.SimpleNamespace(dispose=lambda: None))

    def warm(self): pass
    def start(self): pass
    def stop(self): pass


real_run = work.run


def slow_start(services, shard=None, ready=None):  # a worker still importing, say
    time.sleep(2.0)
    return real_run(services, shard, ready)


work.run = slow_start
sys.exit(work.supervise(Services(), 2))
"""


def test_a_worker_told_to_take_all_while_it_starts_is_not_killed(tmp_path):
    """When a worker dies, the supervisor tells the others to take every wake-up (SIGUSR1).
    A replacement just forked, before it has set its handler, was killed by that signal
    (its default action), and then replaced again. The signal now waits until it can be
    handled."""
    log = tmp_path / "supervisor.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR], stdout=out, stderr=out,
                                cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        first = wait_children(proc.pid, 2, timeout=10)
        for pid in first:  # within the 2 s each takes to start
            os.kill(pid, signal.SIGUSR1)
        time.sleep(3.0)
        assert sorted(children(proc.pid)) == sorted(first), log.read_text()
        assert "exited" not in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0, log.read_text()


def test_a_backlog_is_committed_in_groups_and_one_bad_message_spoils_none(make_app, line_api,
                                                                          database, caplog):
    """While one thread decides, the others waiting for its slot hand it their turns and
    finishes, which it commits together. A message whose decision fails inside such a
    group must neither cost the others their answers nor leave them answered, or
    recorded, twice: the group is rolled back and each turn runs again alone, and the
    bad one alone gets the kind fallback with the emergency and crisis windows."""
    from sqlalchemy import func, select

    from bot.channels.line.plain import message_text
    from bot.store.schema import messages

    from .store.test_store import queued

    app = make_app(DATABASE_URL=database, DISPATCH_THREADS=1)
    store = app.extensions["bot"].store
    events = []
    for n in range(30):
        ev = queued(f"E{n}", key=f"line:U{n:032x}", text="壊れる" if n == 12 else "こんにちは")
        ev.delivery = {"reply_token": f"token-{n}"}
        events.append(ev)
    store.enqueue(events, now=time.time())
    engine = app.extensions["bot"].dispatcher.handler.engine()
    real = engine.handle

    def slow_and_one_broken(conv, inbound, view):
        time.sleep(0.02)  # long enough for the other threads to queue behind it
        if inbound.text == "壊れる":
            raise RuntimeError("a bug")
        return real(conv, inbound, view)

    engine.handle = slow_and_one_broken
    dispatcher = app.extensions["bot"].dispatcher
    dispatcher.threads = 8  # as the worker runs: many threads, DISPATCH_THREADS deciding
    dispatcher.start()
    line_api.wait_for(REPLY, 30, timeout=30)
    time.sleep(0.5)  # (a second answer to anyone would have come by now)
    replies = {b["replyToken"]: [message_text(m) for m in b["messages"]]
               for b, _ in line_api.requests(REPLY)}
    assert len(line_api.requests(REPLY)) == 30 and len(replies) == 30  # everyone, once
    assert replies.pop("token-12")[0].startswith("申し訳ありません")
    answers = {tuple(texts) for texts in replies.values()}
    assert len(answers) == 1  # the others: the same answer, the flow's own, not the fallback
    assert not next(iter(answers))[0].startswith("申し訳ありません")
    with store.engine.connect() as conn:
        rows = dict(conn.execute(select(messages.c.conv_key, func.count())
                                 .group_by(messages.c.conv_key)).all())
    good = [rows.get(f"line:U{n:032x}") for n in range(30) if n != 12]
    assert len(set(good)) == 1 and good[0]  # each good turn recorded once, none twice
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "cannot be handled" in errors[0]  # no one else's turn failed
    slots = dispatcher.handler.deciding
    assert slots.groups >= 1  # work was committed in groups
    if store.groups_turns:
        assert slots.failed >= 1  # the bad message's group failed, and went again alone
