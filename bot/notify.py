"""Calls made after a decision commits: Slack announcements and profile look-ups.

They are queued in the outbox in the decision's transaction, and carried out
here by the dispatcher's workers, with retries: slack-sdk's own retry handlers
for brief failures, then the outbox's backoff for longer ones. An announcement
carries no message text: only the queue position, the priority and a link.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable


from .channels.base import Channel
from .engine import ConvKey
from .store import Store
from .store.outbox import Entry

logger = logging.getLogger(__name__)
PRIORITY = {0: "通常", 1: "危険", 2: "危機"}
GIVE_UP_AFTER = 24 * 3600.0


class NotifyError(Exception):
    """A call that did not go through; the outbox tries it again later."""


def _client(webhook_url: str, timeout: int) -> Any:
    """slack-sdk's webhook client, imported only when Slack is configured (start-up)."""
    from slack_sdk.http_retry.builtin_handlers import (ConnectionErrorRetryHandler,
                                                       RateLimitErrorRetryHandler,
                                                       ServerErrorRetryHandler)
    from slack_sdk.webhook import WebhookClient

    return WebhookClient(webhook_url, timeout=timeout, retry_handlers=[
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=2),
        ServerErrorRetryHandler(max_retry_count=2)])


class SlackNotifier:
    """Posts short announcements to a Slack incoming webhook."""

    def __init__(self, webhook_url: str | None, console_url: str, timeout: int = 5):
        self.console_url = console_url.rstrip("/")
        self.client = _client(webhook_url, timeout) if webhook_url else None

    def text(self, event: str, handoff_id: int, position: int, priority: int) -> str:
        """The announcement: what happened, where in the queue, how urgent, and a link."""
        what = {"new": "新しい相談がスタッフを待っています",
                "alert": "スタッフ対応中・待機中の相談で、危険または危機の言葉がありました"}[event]
        return (f"{what}（待ち順 {position} 番目、優先度: {PRIORITY.get(priority, priority)}）\n"
                f"{self.console_url}/console/c/{handoff_id}")

    def stuck_text(self, count: int) -> str:
        """The alert for answers that do not get through to the platform."""
        return (f"ボットの返信 {count} 件が、しばらく相談者に届いていません（送信を再試行中）。"
                f"コンソールで確認してください。\n{self.console_url}/console")

    def post(self, text: str) -> None:
        """Send one message; raise NotifyError if Slack did not take it."""
        if self.client is None:
            return
        try:
            response = self.client.send(text=text)
        except Exception as exc:  # network errors after slack-sdk's own retries
            raise NotifyError(type(exc).__name__) from exc
        if response.status_code != 200:
            raise NotifyError(f"Slack answered {response.status_code}")


class OutboxWorker:
    """Carries out due outbox entries; run by the dispatcher's workers after the inbox."""

    def __init__(self, store: Store, slack: SlackNotifier, channels: dict[str, Channel],
                 clock: Callable[[], float] = time.time):
        self.store, self.slack, self.channels, self.clock = store, slack, channels, clock

    def run_once(self) -> bool:
        """Carry out what is due; True if anything was."""
        entries = self.store.outbox.claim(self.clock())
        for entry in entries:
            try:
                self._perform(entry)
                self.store.outbox.done(entry.id)
            except Exception as exc:
                self._failed(entry, exc)
        return bool(entries)

    def _failed(self, entry: Entry, exc: Exception) -> None:
        if self.clock() - entry.created_at > GIVE_UP_AFTER:
            logger.error("outbox %s %s given up: %s", entry.kind, entry.id, type(exc).__name__)
            self.store.outbox.done(entry.id)
            return
        delay = min(600.0, 5.0 * 2 ** min(entry.attempts, 7))
        logger.warning("outbox %s %s failed (%s); again in %.0f s", entry.kind, entry.id,
                       exc if isinstance(exc, NotifyError) else type(exc).__name__, delay)
        self.store.outbox.retry(entry.id, self.clock() + delay, type(exc).__name__)

    def _perform(self, entry: Entry) -> None:
        if entry.kind == "slack":
            self.slack.post(self._slack_text(entry.payload))
        elif entry.kind == "profile":
            self._profile(entry.payload["handoff"])
        else:
            logger.error("outbox entry of unknown kind %r dropped", entry.kind)

    def _slack_text(self, payload: dict[str, Any]) -> str:
        if payload["event"] == "stuck":
            return self.slack.stuck_text(payload["count"])
        handoff = self.store.handoffs.get(payload["handoff"])
        if handoff is None:  # deleted meanwhile
            return self.slack.text(payload["event"], payload["handoff"], 0, 0)
        position = (self.store.handoffs.ahead_of(handoff) + 1 if handoff.status == "waiting"
                    else 0)
        return self.slack.text(payload["event"], handoff.id, position, handoff.priority)

    def _profile(self, handoff_id: int) -> None:
        handoff = self.store.handoffs.get(handoff_id)
        if handoff is None:
            return
        key = ConvKey.parse(handoff.conv_key)
        channel = self.channels.get(key.channel)
        name = channel.profile(key) if channel is not None else None
        if name:
            self.store.handoffs.set_display_name(handoff.id, name)
