"""Tell staff about new handoffs and alerts through a Slack incoming webhook.

An announcement carries no message text: only the queue position, the priority
and a link to the console.
"""
from __future__ import annotations

import json
import logging
import threading
import urllib.request

logger = logging.getLogger(__name__)
PRIORITY = {0: "通常", 1: "危険", 2: "危機"}


class SlackNotifier:
    """Posts short announcements in the background; a failure is logged, never raised."""

    def __init__(self, webhook_url: str | None, console_url: str, timeout: float = 5.0):
        self.webhook_url, self.console_url, self.timeout = webhook_url, console_url.rstrip("/"), timeout

    def text(self, event: str, handoff_id: int, position: int, priority: int) -> str:
        """The announcement: what happened, where in the queue, how urgent, and a link."""
        what = {"new": "新しい相談がスタッフを待っています",
                "alert": "スタッフ対応中・待機中の相談で、危険または危機の言葉がありました"}[event]
        return (f"{what}（待ち順 {position} 番目、優先度: {PRIORITY.get(priority, priority)}）\n"
                f"{self.console_url}/console/c/{handoff_id}")

    def announce(self, event: str, handoff_id: int, position: int, priority: int) -> threading.Thread | None:
        """Send in the background; returns the thread (tests join it), or None when not configured."""
        if not self.webhook_url:
            return None
        body = json.dumps({"text": self.text(event, handoff_id, position, priority)}).encode()
        thread = threading.Thread(target=self._post, args=(body,), daemon=True)
        thread.start()
        return thread

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self.webhook_url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except OSError as exc:
            logger.warning("Slack announcement failed: %s", type(exc).__name__)
