"""Hot reload: edits to flows/, contacts.yaml, keywords.yaml and examples/ go live within seconds.

Every process watches the files itself, so every gunicorn worker picks an edit
up. An edit that fails validation is not applied: the previous content stays
live and each problem is logged as `file:line: message`.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable, Mapping

from .content import Content, check_content
from .yamlsrc import ContentError

logger = logging.getLogger(__name__)


def content_files(config: Mapping[str, Any]) -> list[Path]:
    """Every file whose change alters the content."""
    flows = sorted(Path(config["FLOWS_DIR"]).glob("*.yaml"))
    examples = sorted(Path(config["EXAMPLES_DIR"]).glob("*.yaml"))
    return flows + examples + [Path(config[k]) for k in ("CONTACTS_FILE", "KEYWORDS_FILE",
                                                         "STAFF_FILE")]


def fingerprint(config: Mapping[str, Any]) -> tuple:
    """What changes when any content file is edited, added or removed."""
    out: list[tuple[str, int | None, int | None]] = []
    for path in content_files(config):
        try:
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), None, None))
    return tuple(out)


class ContentWatcher:
    """Polls the content files and swaps in new content that validates."""

    def __init__(self, config: Mapping[str, Any], apply: Callable[[Content | None, list[ContentError]], None],
                 interval: float = 2.0):
        self.config, self.apply, self.interval = config, apply, interval
        self.seen = fingerprint(config)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> bool:
        """Start watching once per process; True if this call started it."""
        with self._lock:
            if self._thread and self._thread.is_alive():
                return False
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="content-watch", daemon=True)
            self._thread.start()
            return True

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # keep watching; the live content is untouched
                logger.exception("content check failed")

    def check(self) -> bool:
        """Reload if the files changed; True if new content went live."""
        now = fingerprint(self.config)
        if now == self.seen:
            return False
        self.seen = now
        content, errors = check_content(self.config)
        if content is None:
            for error in errors:
                logger.error("content change refused, previous version stays live: %s", error)
            self.apply(None, errors)
            return False
        if not content.classifier.training:  # a shared model another thread trains: don't wait
            content.classifier.train()  # here, in the watcher's thread, not in a person's turn
        logger.info("content reloaded: %d flows, %d windows", len(content.engine.flows),
                    len(content.directory.enabled))
        self.apply(content, [])
        return True
