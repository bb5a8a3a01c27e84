"""Small helpers shared by the tests: waiting for a condition, forking while another thread
holds a lock, and a real browser."""
from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
# As this machine's probe starts it: no sandbox as root, and no calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def wait_until(check: Callable[[], object], timeout: float = 5.0) -> bool:
    """Poll `check` until it is true or `timeout` seconds pass; return whether it came true."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def in_child(body: Callable[[], bytes]) -> bytes:
    """Run `body()` (returning one byte) in a forked child; its answer, or b"" after 10 s."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, body())
        finally:
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 10)
        return os.read(read, 1) if ready else b""
    finally:
        os.close(read)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


@contextlib.contextmanager
def held_by_another_thread(lock: ContextManager[Any]) -> Iterator[None]:
    """While inside, another thread holds `lock` (entered, not yet left): as a parent thread
    would at the moment gunicorn or `flask work` forks."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    try:
        yield
    finally:
        release.set()
        holder.join(5)


def launch_chromium() -> Iterator[object]:
    """Debian's chromium driven by Playwright; skip (or fail, under REQUIRE_BROWSER) without it."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER is set but {CHROMIUM} is missing")
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
