"""The benchmark's servers and load generator: gunicorn processes, signed events, timings.

Everything runs on 127.0.0.1 and every loop is bounded in time.
"""
from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.line_fake import PUSH, REPLY, LineUser, _like_line, sign  # noqa: E402
from tests.test_gunicorn import answering, free_port, procfile_command, worker_command  # noqa: E402

SECRET, TOKEN = "bench-secret", "bench-token"
WORDS = ["こんにちは", "自分", "つきまとい", "悪口を書かれました", "戻る", "SNSで晒されています",
         "友人・家族", "最初から"]


class Server:
    """The Procfile's web command, serving the bot (with the Procfile's worker) or a baseline."""

    def __init__(self, name: str, app: str | None, env: dict[str, str], log_dir: Path,
                 web_env: dict[str, str] | None = None):
        self.name, self.app, self.env = name, app, env
        self.web_env = {**env, **(web_env or {})}  # for the web command only
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.worker_options: list[str] = []  # added to the Procfile's worker command
        self.url = ""

    def command(self, port: int) -> list[str]:
        """The Procfile's line, with another app in place of the bot's when asked."""
        args = procfile_command(port)
        if self.app is not None:
            at = next(i for i, a in enumerate(args) if i > 2 and ":" in a and not a.startswith("-"))
            args[at:at + 1] = [self.app, "--pythonpath", str(ROOT / "scripts")]
        return args

    def start(self) -> None:
        port = free_port()
        self.url = f"127.0.0.1:{port}"
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(self.command(port), cwd=ROOT, env=self.web_env,
                                         stdout=out, stderr=out)
        if self.app is None:
            self.start_worker()

    def start_worker(self) -> None:
        """Start the Procfile's worker (the bot only); wait until its processes run."""
        with open(self.log, "a") as out:
            self.worker = subprocess.Popen(worker_command() + self.worker_options, cwd=ROOT,
                                           env=self.env, stdout=out, stderr=out)
        deadline = time.time() + 60
        while len(children(self.worker.pid)) < worker_processes() and time.time() < deadline:
            time.sleep(0.1)

    def stop_worker(self) -> None:
        """Stop the worker gracefully: each process finishes the event in hand."""
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            self.worker.wait(timeout=60)
        self.worker = None

    def wait_ready(self, workers: int = 2, timeout: float = 90.0) -> None:
        """Wait until it answers HTTP and all its workers have booted."""
        assert self.proc is not None
        if not answering(self.proc, "http://" + self.url, timeout):
            raise SystemExit(f"{self.name} did not start; see {self.log}")
        deadline = time.time() + timeout
        while len(self.workers()) < workers and time.time() < deadline:
            time.sleep(0.1)

    def workers(self) -> list[int]:
        """The pids of the gunicorn master's children."""
        assert self.proc is not None
        return children(self.proc.pid)

    def rss(self, handling: bool = False) -> list[float]:
        """Each web worker's (or `handling` worker's) resident memory in MiB."""
        proc = self.worker if handling else self.proc
        return sorted(rss_mib(pid) for pid in children(proc.pid)) if proc else []

    def stop(self) -> None:
        for proc in (self.proc, self.worker):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.proc, self.worker):
            if proc is None:
                continue
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def worker_processes() -> int:
    """How many processes the Procfile's worker line starts."""
    args = worker_command()
    return int(args[args.index("--processes") + 1]) if "--processes" in args else 1


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def cpu_seconds(pids: Iterable[int], reaping: Iterable[int] = ()) -> float:
    """User and system CPU these processes have used so far (one that is gone counts 0).

    For the `reaping` ones (gunicorn's master, the worker's supervisor, the
    postmaster) also that of their children that have exited: a process that
    ends while CPU is measured is counted through its parent.
    """
    tick, total, reaping = os.sysconf("SC_CLK_TCK"), 0, set(reaping)
    for pid in set(pids) | reaping:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        if pid in reaping:
            total += int(fields[13]) + int(fields[14])
    return total / tick


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent not idle so far, summed over its cores (/proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def parent(pid: int) -> int | None:
    """The parent of a process, from /proc (None if it is not visible here)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def rss_mib(pid: int) -> float:
    """VmRSS of a process, in MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class KeepAliveLine:
    """The Messaging API's reply and push on loopback, keeping connections alive as LINE does.

    The tests' fake (werkzeug's server) closes every connection after one answer,
    so each reply would cost the bot a new connection and the fake a new thread:
    CPU that production does not spend, taken from the two cores the benchmark
    shares. This one serves each kept-alive connection on one thread.
    """

    def __init__(self) -> None:
        self.behaviour: dict[str, Callable[[dict], tuple]] = {}
        self.server: ThreadingHTTPServer | None = None
        self.url = ""
        self.delay = 0.0  # seconds before each answer: LINE's round trip, which the bot waits for

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body are two writes: without TCP_NODELAY the body
            # waits for the client's delayed ACK, 40 ms per answer.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = fake.behaviour.get(self.path.split("?")[0])
                try:
                    status, payload = (answer(json.loads(body or b"{}")) if answer
                                       else (200, {}))
                except Exception as exc:  # as the tests' fake: a 500, the connection kept
                    status, payload = 500, {"message": type(exc).__name__}
                out = json.dumps(payload).encode()
                if fake.delay:  # noted as arrived already; the bot's thread waits meanwhile
                    time.sleep(fake.delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:  # no line per request
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="fake-line",
                         daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class Api:
    """The fake Messaging API, noting when each reply token first arrives."""

    def __init__(self) -> None:
        self.fake = KeepAliveLine()
        self.arrived: dict[str, float] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self.fake.start()
        for path in (REPLY, PUSH):
            self.fake.behaviour[path] = self._noting(_like_line(path))

    def _noting(self, answer: Callable[[dict], tuple]) -> Callable[[dict], tuple]:
        def note(body: dict) -> tuple:
            token = body.get("replyToken") or ""
            with self._lock:
                self.arrived.setdefault(token, time.perf_counter())
            return answer(body)
        return note


class Events:
    """Distinct, really signed text events from a pool of people."""

    def __init__(self, users: int = 1000, prefix: int = 0xbe00):
        self.users = [LineUser(None, SECRET, user_id="U" + f"{prefix:04x}{n:028x}")
                      for n in range(users)]
        self.n = 0
        self._lock = threading.Lock()

    def next(self) -> tuple[bytes, str, str]:
        """A body, its X-Line-Signature, and its reply token."""
        with self._lock:
            self.n += 1
            n = self.n
        user = self.users[n % len(self.users)]
        event = user.text(WORDS[(n // len(self.users)) % len(WORDS)])
        body = user.body(event)
        return body.encode(), sign(body, SECRET), event["replyToken"]


class Client:
    """One keep-alive connection that posts signed webhooks."""

    def __init__(self, address: str):
        self.address = address
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, signature: str) -> int:
        for attempt in range(2):  # a kept-alive connection the server closed: reconnect once
            if self.conn is None:
                host, port = self.address.split(":")
                self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
            try:
                self.conn.request("POST", "/callback", body, {
                    "Content-Type": "application/json", "X-Line-Signature": signature})
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    return 0
        return 0


@dataclass
class AckResult:
    """Closed-loop acks: how many, how fast, how long each took."""

    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def run_all(target: Callable[[], None], count: int) -> None:
    """Run `count` threads of `target` at once and wait for them all."""
    threads = [threading.Thread(target=target) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def ack_load(address: str, events: Events, concurrency: int, seconds: float) -> AckResult:
    """`concurrency` clients post back to back for `seconds`; every answer timed."""
    result = AckResult()
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + seconds

    def client() -> None:
        c, mine, tokens, errors = Client(address), [], [], 0
        while time.perf_counter() < deadline:
            body, signature, token = events.next()
            t0 = time.perf_counter()
            status = c.post(body, signature)
            mine.append(time.perf_counter() - t0)
            tokens.append(token)
            errors += status != 200
        with lock:
            result.latencies += mine
            result.tokens += tokens
            result.errors += errors

    run_all(client, concurrency)
    result.seconds = time.perf_counter() - start
    result.count = len(result.latencies)
    return result


@dataclass
class Sent:
    """Open-loop load: when each event was posted, by its reply token."""

    posted: dict[str, float] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0


def offered_load(address: str, events: Events, rate: float, seconds: float) -> Sent:
    """Post events at `rate` per second for `seconds`, on schedule whatever the answers take.

    Enough senders that slow acks (up to a second each) do not hold the schedule back.
    """
    sent, lock = Sent(), threading.Lock()
    senders = min(64, max(8, int(rate)))
    total = max(1, int(rate * seconds))
    start = time.perf_counter()
    jobs: queue.Queue[int] = queue.Queue()
    for i in range(total):
        jobs.put(i)

    def sender() -> None:
        c = Client(address)
        while True:
            try:
                i = jobs.get_nowait()
            except queue.Empty:
                return
            body, signature, token = events.next()
            wait = start + i / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            t0 = time.perf_counter()
            status = c.post(body, signature)
            with lock:
                sent.posted[token] = t0
                sent.errors += status != 200

    run_all(sender, senders)
    sent.seconds = time.perf_counter() - start
    return sent


def answered(api: Api, tokens: Iterable[str]) -> int:
    """How many of these reply tokens reached the fake API."""
    with api._lock:
        return sum(1 for t in tokens if t in api.arrived)


def wait_answered(api: Api, tokens: list[str] | dict[str, float], timeout: float) -> bool:
    """Wait until every token has arrived; False after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if answered(api, tokens) >= len(tokens):
            return True
        time.sleep(0.1)
    return False
