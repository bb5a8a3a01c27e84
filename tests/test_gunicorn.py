"""The Procfile's server: gunicorn with several workers, over real HTTP."""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.channels.base import stored_inbound
from bot.channels.line.plain import message_text
from bot.store import QueuedEvent, Store

from .conftest import SECRET, TEST_FLOWS, TOKEN
from .editor.conftest import Workspace
from .line_fake import PUSH, REPLY, LineUser, sign

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_line(kind: str) -> list[str]:
    """A line of the Procfile as arguments, run with this Python (`python -m gunicorn ...`)."""
    line = next(l for l in (ROOT / "Procfile").read_text().splitlines() if l.startswith(kind + ":"))
    return [sys.executable, "-m", *shlex.split(line.removeprefix(kind + ":"))]


def procfile_command(port: int) -> list[str]:
    """The web command of the Procfile, bound to a local port."""
    return [*procfile_line("web"), "--bind", f"127.0.0.1:{port}"]


def worker_command() -> list[str]:
    """The worker command of the Procfile: the processes that handle the stored events."""
    return procfile_line("worker")


class Worker:
    """The Procfile's worker processes, beside a web server; stopped with it."""

    def __init__(self, env: dict[str, str], log: Path):
        with open(log, "a") as out:
            self.proc = subprocess.Popen(worker_command(), cwd=ROOT, env=env, stdout=out,
                                         stderr=out)

    def stop(self, quick: bool = False) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT if quick else signal.SIGTERM)
            self.proc.wait(timeout=60)


@pytest.fixture
def workspace(tmp_path):
    ws = Workspace(tmp_path / "content")
    for path in (ws.root / "flows").glob("*.yaml"):
        path.unlink()
    (ws.root / "flows" / "main.yaml").write_text((TEST_FLOWS / "main.yaml").read_text("utf-8"), "utf-8")
    return ws


@pytest.fixture
def server(tmp_path, line_api, workspace):
    port = free_port()
    db = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    env = dict(os.environ, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
               LINE_API_BASE_URL=line_api.url, DATABASE_URL=db, DISPATCH_POLL_SECONDS="0.2",
               RELOAD_SECONDS="0.3", **workspace.config)
    # An event acknowledged by a server that died before processing it.
    ts = int(time.time() * 1000)
    Store(db).enqueue([QueuedEvent("01ORPHANEDEVENT0000000000A", "line:U" + "7" * 32, ts,
                                   stored_inbound("follow", ts), {"reply_token": "orphan-token"})])
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen(procfile_command(port), cwd=ROOT, env=env, stdout=log, stderr=log)
    worker = Worker(env, tmp_path / "worker.log")
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/callback", timeout=1)
        except urllib.error.HTTPError:
            break  # answering (405 for GET): up
        except OSError:
            time.sleep(0.1)
    yield url
    proc.send_signal(signal.SIGTERM)
    worker.stop()
    proc.wait(timeout=30)
    log.close()


def post(url: str, body: str, signature: str) -> int:
    req = urllib.request.Request(url + "/callback", data=body.encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "X-Line-Signature": signature})
    try:
        return urllib.request.urlopen(req, timeout=5).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_procfile_server_answers_and_resumes_orphaned_events(server, line_api):
    orphan = line_api.wait_for(REPLY, 1)[0][0]  # picked up at boot, before any request
    assert orphan["replyToken"] == "orphan-token"
    user = LineUser(None, SECRET)
    body = user.body(user.follow())
    assert post(server, body, sign(body, SECRET)) == 200
    assert post(server, body, "forged") == 400
    replies = line_api.wait_for(REPLY, 2)
    assert message_text(replies[1][0]["messages"][0]) == "テスト用のあいさつです。"
    time.sleep(0.3)
    assert len(line_api.requests(REPLY)) == 2
    # 10 MB: a 413 the client hears (before: the connection was dropped mid-upload)
    assert post(server, " " * (10 * 1024 * 1024), "x") == 413


def test_an_edit_reaches_every_worker_without_a_restart(server, line_api, workspace, tmp_path):
    line_api.wait_for(REPLY, 1)  # the orphaned event
    log_file = tmp_path / "gunicorn.log"
    deadline = time.time() + 20
    while len(set(re.findall(r"\[(\d+)\] INFO bot: dispatcher and content watcher running",
                             log_file.read_text()))) < 2:
        assert time.time() < deadline, log_file.read_text()
        time.sleep(0.1)
    workspace.edit("flows/main.yaml", "greeting: テスト用のあいさつです。", "greeting: 新しいあいさつです。")
    time.sleep(1.5)  # a few reload intervals
    users = [LineUser(None, SECRET, user_id="U" + str(n) * 32) for n in range(2, 8)]
    for u in users:  # six requests, spread over both workers
        body = u.body(u.follow())
        assert post(server, body, sign(body, SECRET)) == 200
    replies = line_api.wait_for(REPLY, 1 + len(users))[1:]
    assert [message_text(b["messages"][0]) for b, _ in replies] == ["新しいあいさつです。"] * len(users)
    log = log_file.read_text()
    reloaded = set(re.findall(r"\[(\d+)\] INFO bot.reload: content reloaded", log))
    assert len(reloaded) == 2, log  # both web workers of the Procfile
    log = (tmp_path / "worker.log").read_text()
    reloaded = set(re.findall(r"\[(\d+)\] INFO bot.reload: content reloaded", log))
    assert len(reloaded) == 2, log  # and both of its worker processes


def start(tmp_path, env_extra: dict, name: str = "gunicorn") -> tuple[subprocess.Popen, str, Path]:
    """Start the Procfile's server; return the process, its URL and its log file."""
    port = free_port()
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(procfile_command(port), cwd=ROOT, env=server_env(env_extra),
                                stdout=log, stderr=log)
    return proc, f"http://127.0.0.1:{port}", log_path


def server_env(env_extra: dict) -> dict[str, str]:
    return {**os.environ, "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "DISPATCH_POLL_SECONDS": "0.2", "FLOWS_DIR": str(TEST_FLOWS), **env_extra}


def answering(proc: subprocess.Popen, url: str, timeout: float = 30) -> bool:
    """Wait until the server answers HTTP; False if it died or never did."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url + "/callback", timeout=1)
        except urllib.error.HTTPError:
            return True  # 405 for GET: up
        except OSError:
            time.sleep(0.1)
    return False


def stop(proc: subprocess.Popen, quick: bool = False) -> None:
    """SIGTERM (graceful), or SIGQUIT (gunicorn's quick shutdown) where only booting matters."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGQUIT if quick else signal.SIGTERM)
        proc.wait(timeout=60)


def test_ten_first_boots_on_an_empty_database(tmp_path, line_api):
    """Before migrations, both workers ran create_all at once: 5 of 20 boots crashed."""
    from .conftest import fresh_postgres

    for attempt in range(10):  # alternately SQLite and PostgreSQL, each empty
        db = fresh_postgres() if attempt % 2 else \
            f"sqlite:///{tmp_path / f'boot{attempt}.sqlite3'}"
        proc, url, log = start(tmp_path, {"DATABASE_URL": db, "LINE_API_BASE_URL": line_api.url})
        try:
            assert answering(proc, url), f"boot {attempt + 1} failed:\n{log.read_text()}"
        finally:
            stop(proc, quick=True)
        assert "Worker failed to boot" not in log.read_text()


def test_two_servers_start_together_on_a_fresh_postgres(tmp_path, line_api):
    from .conftest import fresh_postgres

    db = fresh_postgres()
    env = {"DATABASE_URL": db, "LINE_API_BASE_URL": line_api.url}
    servers = [start(tmp_path, env, f"s{i}") for i in range(2)]
    worker = Worker(server_env(env), tmp_path / "worker.log")
    try:
        for proc, url, log in servers:
            assert answering(proc, url), log.read_text()
        user = LineUser(None, SECRET)
        for _, url, _ in servers:
            body = user.body(user.follow())
            assert post(url, body, sign(body, SECRET)) == 200
        assert len(line_api.wait_for(REPLY, 2)) == 2
    finally:
        worker.stop()
        for proc, _, _ in servers:
            stop(proc)


@pytest.mark.parametrize("how", ["SIGHUP", "SIGTERM"])
def test_a_reload_or_deploy_mid_load_neither_resends_nor_stalls(tmp_path, line_api, how):
    db = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    env = {"DATABASE_URL": db, "LINE_API_BASE_URL": line_api.url, "DISPATCH_LEASE_SECONDS": "60"}
    proc, url, log = start(tmp_path, env)
    worker = Worker(server_env(env), tmp_path / "worker.log")
    assert answering(proc, url), log.read_text()
    line_api.delay[REPLY] = 0.8  # every answer is in flight for a while
    users = [LineUser(None, SECRET, user_id="U" + format(n, "x") * 32) for n in range(1, 7)]
    events = []
    for u in users:
        events += [u.follow(), u.text("自分")]
        body = u.body(*events[-2:])
        assert post(url, body, sign(body, SECRET)) == 200
    line_api.wait_for(REPLY, 2)  # answers are under way
    started = time.time()
    if how == "SIGHUP":  # gunicorn replaces its web workers gracefully; the workers go on
        proc.send_signal(signal.SIGHUP)
    else:  # a deploy: the old processes stop, new ones start
        stop(proc)
        worker.stop()
        proc, url, log = start(tmp_path, env, "second")
        worker = Worker(server_env(env), tmp_path / "worker2.log")
    try:
        line_api.wait_for(REPLY, len(events), timeout=45)
        took = time.time() - started
        time.sleep(1.0)
        tokens = [b["replyToken"] for b, _ in line_api.requests(REPLY)]
        assert sorted(tokens) == sorted(e["replyToken"] for e in events)  # each once
        assert line_api.requests(PUSH) == []  # nothing pushed again after a restart
        assert took < 30, f"stalled {took:.0f} s: a lease was left to expire"
    finally:
        worker.stop()
        stop(proc)
