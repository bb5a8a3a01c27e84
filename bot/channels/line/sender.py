"""Send rendered replies through the Messaging API (line-bot-sdk v3)."""
from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import urllib3
from linebot.v3.messaging import (ApiClient, ApiException, Configuration, MessagingApi,
                                  PushMessageRequest, ReplyMessageRequest,
                                  ShowLoadingAnimationRequest)

from ...dispatch import SendError
from ...engine import ConvKey, Reply
from ...store import QueuedEvent
from .render import Batch, render

logger = logging.getLogger(__name__)

# X-Line-Retry-Key must be a UUID; deriving it from the event makes every retry of
# the same push carry the same key, so LINE delivers it at most once.
RETRY_NAMESPACE = uuid.UUID("6f1c1c52-6f0e-4d8e-9a55-2d1b3f0c7a10")
LOADING_SECONDS = 20


def retry_key(event_id: str, batch: int) -> str:
    """The retry key of one push request of one event."""
    return str(uuid.uuid5(RETRY_NAMESPACE, f"{event_id}:{batch}"))


def _line_message(exc: ApiException) -> str:
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body)
    return body[:200]


def _is_spent_token(exc: ApiException) -> bool:
    return exc.status == 400 and "reply token" in _line_message(exc).lower()


class LineChannel:
    """The LINE side of the dispatcher: render, reply or push, and show the loading dots."""

    def __init__(self, access_token: str, host: str | None = None, timeout: float = 10.0):
        config = Configuration(access_token=access_token, host=host) if host \
            else Configuration(access_token=access_token)
        self.api = MessagingApi(ApiClient(config))
        self.timeout = timeout

    def render(self, reply: Reply) -> list[Batch]:
        """Render a reply into request-sized batches."""
        return render(reply)

    def send(self, key: ConvKey, ev: QueuedEvent, outbound: Any, first_try: bool) -> None:
        """Reply with the event's token; if LINE refuses the token, push instead."""
        token = (ev.delivery or {}).get("reply_token")
        for i, batch in enumerate(outbound):
            if i == 0 and first_try and token:
                try:
                    self._call(self.api.reply_message_with_http_info, ReplyMessageRequest.from_dict(
                        {"replyToken": token, "messages": batch}))
                    continue
                except SendError:
                    raise
                except ApiException as exc:
                    if not _is_spent_token(exc):
                        raise _send_error(exc) from exc
                    logger.info("event %s: reply token refused; pushing instead", ev.event_id)
            self.push(key.user, batch, retry_key(ev.event_id, i))

    def push(self, to: str, batch: Batch, key: str) -> None:
        """Push one request of messages; the retry key makes a repeat a no-op at LINE."""
        request = PushMessageRequest.from_dict({"to": to, "messages": batch})
        try:
            self._call(self.api.push_message_with_http_info, request, x_line_retry_key=key)
        except ApiException as exc:
            if exc.status == 409:  # this retry key was accepted before: already delivered
                return
            raise _send_error(exc) from exc

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        # A 2xx means LINE took the messages. The body is not parsed: should the SDK
        # fail to read a valid answer, a retry would deliver the messages twice.
        try:
            return method(*args, _request_timeout=self.timeout, _preload_content=False, **kwargs)
        except urllib3.exceptions.HTTPError as exc:
            raise SendError(f"Messaging API unreachable: {type(exc).__name__}", retry=True) from exc

    def display_name(self, user_id: str) -> str | None:
        """The person's LINE display name (only used when CONSOLE_SHOW_PROFILE is on)."""
        try:
            response = self._call(self.api.get_profile_with_http_info, user_id)
            return json.loads(response.raw_data).get("displayName")
        except (SendError, ApiException, ValueError) as exc:
            logger.warning("display name not available: %s", type(exc).__name__)
            return None

    def show_loading(self, key: ConvKey) -> None:
        """Show the typing dots in a one-to-one chat while an answer takes time."""
        if key.user.startswith("U"):
            self._call(self.api.show_loading_animation_with_http_info, ShowLoadingAnimationRequest(
                chatId=key.user, loadingSeconds=LOADING_SECONDS))


def _send_error(exc: ApiException) -> SendError:
    status = exc.status or 0  # 0: the SDK failed before any HTTP status (e.g. TLS)
    retry = status == 0 or status == 429 or status >= 500
    return SendError(f"Messaging API {exc.status}: {_line_message(exc)}", retry=retry)
