"""Fault run: the Procfile's server under load while things go wrong; nothing lost, nothing doubled.

    python scripts/fault_run.py                  # 500 events, 50 users, a 5-minute outage
    python scripts/fault_run.py --quick          # what CI runs: 100 events, 10 users, 20 s
    python scripts/fault_run.py --database postgresql://postgres@127.0.0.1:5432/test

It starts the Procfile's processes (gunicorn, and the worker that handles events)
against a fake Messaging API on loopback that behaves like LINE (a reply token
is taken once and expires after 60 s; a push's retry key is taken once). Then it
sends signed webhooks, one in five of them delivered again, while it

1. kills a web worker and a handling worker with SIGKILL,
2. takes the API down (500s, and 429s with Retry-After) for `--outage` seconds,
3. restarts the server (SIGTERM to both, then new ones),

and afterwards checks, per event, what the fake API accepted: exactly one
answer for each (none lost, none doubled). It prints a summary and exits 1 on
any loss or double. Everything runs on this machine (127.0.0.1) and stops by
itself within `--deadline` seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.base import retry_key  # noqa: E402
from tests.line_fake import PUSH, REPLY, FakeLine, LineUser, sign  # noqa: E402
from tests.test_gunicorn import free_port, procfile_command, worker_command  # noqa: E402

SECRET, TOKEN = "fault-run-secret", "fault-run-token"
WORDS = ["自分", "つきまとい", "戻る", "悪口", "こんにちは", "友人・家族", "最初から", "自分"]


class Server:
    """The Procfile's gunicorn and worker, started and stopped on demand."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log, self.proc = env, log, None
        self.worker: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(procfile_command(port), cwd=ROOT, env=self.env,
                                         stdout=out, stderr=out)
            self.worker = subprocess.Popen(worker_command(), cwd=ROOT, env=self.env,
                                           stdout=out, stderr=out)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/callback", timeout=1)
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"server did not start; see {self.log}")

    def workers(self, proc: subprocess.Popen | None = None) -> list[int]:
        """The web workers (gunicorn's children), or the children of `proc`."""
        proc = proc or self.proc
        out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self) -> None:
        for proc in (self.proc, self.worker):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.proc, self.worker):
            if proc:
                proc.wait(timeout=90)


def post(server: Server, body: str) -> int:
    """POST a signed body; retry while the server restarts (as LINE redelivers)."""
    for _ in range(200):
        request = urllib.request.Request(server.url + "/callback", data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "X-Line-Signature": sign(body, SECRET)})
        try:
            return urllib.request.urlopen(request, timeout=10).status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            time.sleep(0.1)
    return 0


def outage(api: FakeLine, down: threading.Event) -> None:
    """While `down` is set, the Messaging API fails: mostly 500, sometimes 429 with Retry-After."""
    def failing(path_default):
        def answer(body: dict) -> tuple:
            if down.is_set():
                if random.random() < 0.2:
                    return (429, {"message": "Too many requests"}, {"Retry-After": "3"})
                return (500, {"message": "Internal error"})
            return path_default(body)
        return answer

    from tests.line_fake import _like_line
    for path in (REPLY, PUSH):
        api.behaviour[path] = failing(_like_line(path))


def unfinished(database: str) -> int:
    from sqlalchemy import create_engine, text

    from bot.store import database_url
    engine = create_engine(database_url(database))
    with engine.connect() as conn:
        n = conn.execute(text("SELECT COUNT(*) FROM inbox WHERE status NOT IN ('done', 'failed')"))
        count = int(n.scalar_one())
    engine.dispose()
    return count


def judge(api: FakeLine, events: list[dict]) -> dict[str, int]:
    """Count, per event, the answers LINE accepted: by its reply token or its push retry key."""
    by_token = {e["replyToken"]: e["webhookEventId"] for e in events}
    by_key = {retry_key(e["webhookEventId"], 0): e["webhookEventId"] for e in events}
    got: dict[str, int] = {e["webhookEventId"]: 0 for e in events}
    with api._lock:
        accepted = list(api.accepted)
    for path, body, headers in accepted:
        if path == REPLY and body.get("replyToken") in by_token:
            got[by_token[body["replyToken"]]] += 1
        elif path == PUSH and headers.get("X-Line-Retry-Key") in by_key:
            got[by_key[headers["X-Line-Retry-Key"]]] += 1
    counts = list(got.values())
    return {"events": len(events), "answered_once": counts.count(1), "lost": counts.count(0),
            "doubled": sum(1 for c in counts if c > 1),
            "replies": sum(1 for p, _, _ in accepted if p == REPLY),
            "pushes": sum(1 for p, _, _ in accepted if p == PUSH)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--redeliver", type=float, default=0.2)
    parser.add_argument("--outage", type=float, default=300.0, help="seconds the API is down")
    parser.add_argument("--database", help="default: a fresh SQLite file")
    parser.add_argument("--deadline", type=float, default=1200.0)
    parser.add_argument("--quick", action="store_true", help="100 events, 10 users, 20 s outage")
    args = parser.parse_args()
    if args.quick:
        args.events, args.users, args.outage, args.deadline = 100, 10, 20.0, 300.0
    random.seed(10)
    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake API's request log
    work = Path(tempfile.mkdtemp(prefix="fault-run-"))
    database = args.database or f"sqlite:///{work / 'bot.sqlite3'}"
    if args.database:  # start from an empty database
        from sqlalchemy import create_engine

        from bot.store import database_url
        from bot.store.schema import metadata
        engine = create_engine(database_url(database))
        metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        engine.dispose()
    api = FakeLine()
    api.start()
    api.token_life = 60.0
    down = threading.Event()
    outage(api, down)
    env = dict(os.environ, LINE_CHANNEL_SECRET=SECRET, LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
               LINE_API_BASE_URL=api.url, DATABASE_URL=database, SECRET_KEY="fault-run",
               FLOWS_DIR=str(ROOT / "tests" / "flows"), DISPATCH_POLL_SECONDS="0.5",
               RETRY_MAX_SECONDS="10")
    server = Server(env, work / "gunicorn.log")
    server.start()
    started = time.time()
    users = [LineUser(None, SECRET, user_id="U" + f"{n:032x}") for n in range(args.users)]
    events: list[dict] = []
    per_user = args.events // args.users
    plan = [(u, i) for i in range(per_user) for u in users]
    gap = (args.outage * 0.6) / max(1, len(plan))  # spread the load over the faults
    faults = {len(plan) // 10: "kill", len(plan) // 5: "down", len(plan) // 3: "restart"}
    for n, (user, i) in enumerate(plan):
        what = faults.get(n)
        if what == "kill":
            victims = [server.workers()[0], server.workers(server.worker)[0]]
            for victim in victims:
                os.kill(victim, signal.SIGKILL)
            print(f"{time.time() - started:6.1f}s killed web worker {victims[0]} and handling "
                  f"worker {victims[1]}", flush=True)
        elif what == "down":
            down.set()
            threading.Timer(args.outage, down.clear).start()
            print(f"{time.time() - started:6.1f}s API down for {args.outage:.0f} s", flush=True)
        elif what == "restart":
            server.stop()
            server.start()
            print(f"{time.time() - started:6.1f}s server restarted", flush=True)
        event = user.follow() if i == 0 else user.text(WORDS[i % len(WORDS)])
        api.issued[event["replyToken"]] = time.time()
        events.append(event)
        status = post(server, user.body(event))
        if random.random() < args.redeliver or status != 200:  # LINE sends it again
            again = dict(event, deliveryContext={"isRedelivery": True})
            api.issued[event["replyToken"]] = time.time()  # a redelivery refreshes the token
            post(server, user.body(again))
        time.sleep(gap)
    print(f"{time.time() - started:6.1f}s all {len(events)} events sent; waiting", flush=True)
    deadline = started + args.deadline
    while time.time() < deadline and (down.is_set() or unfinished(database)):
        time.sleep(1)
    time.sleep(3)  # anything still in flight lands
    result = judge(api, events)
    result.update(seconds=round(time.time() - started), outage_seconds=args.outage,
                  unfinished=unfinished(database),
                  database=database.split(":")[0].split("+")[0])
    server.stop()
    api.stop()
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["lost"] == result["doubled"] == result["unfinished"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
