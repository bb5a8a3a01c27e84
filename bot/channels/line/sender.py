"""Send rendered replies through the Messaging API (line-bot-sdk v3).

How an answer is delivered exactly once where LINE allows it:

- Batch 0 goes by reply while the reply token is surely still valid (for
  TOKEN_TRUST seconds after the event arrived); later batches, and batch 0 after
  that, go by push with a retry key derived from the event, so a repeated push is
  delivered once (LINE answers 409 to a key it accepted before).
- A reply whose outcome is unknown (a timeout, or a crash mid-call) is tried
  again by reply with the same token while it is surely valid: if LINE refuses
  the token then, our first try used it, and the answer was delivered.
- Past that window the outcome of such a reply cannot be known. A safety answer
  (crisis or danger help) is pushed again: at-least-once, it may arrive twice.
  Any other answer is not resent: at-most-once, and the log says so.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, Sequence

import urllib3
from linebot.v3.messaging import (ApiClient, ApiException, Configuration,
                                  MarkMessagesAsReadByTokenRequest, MessagingApi,
                                  ShowLoadingAnimationRequest)
from linebot.v3.messaging.rest import RESTResponse

from ...engine import ConvKey, Reply
from ..base import Batch, Delivery, Outbound, SendError, retry_key
from .render import render

logger = logging.getLogger(__name__)
LOADING_SECONDS = 20
TOKEN_TRUST = 45.0  # seconds after arrival a reply token is surely unexpired (LINE: ~1 min)
REPLY_PATH, PUSH_PATH = "/v2/bot/message/reply", "/v2/bot/message/push"
# Connection never made: the request did not reach LINE, so nothing was delivered.
_NOT_SENT = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)


def _line_message(exc: ApiException) -> str:
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body)
    return body[:200]


def _is_spent_token(exc: ApiException) -> bool:
    return exc.status == 400 and "reply token" in _line_message(exc).lower()


def _retry_after(exc: ApiException) -> float | None:
    value = (exc.headers or {}).get("Retry-After") if exc.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class LineChannel:
    """The LINE side of the dispatcher and the desk: render, reply or push, loading, profile."""

    name = "line"

    def __init__(self, access_token: str, host: str | None = None, timeout: float = 30.0,
                 clock: Callable[[], float] = time.time, chat_mode: bool = False,
                 connections: int = 10):
        config = Configuration(access_token=access_token, host=host) if host \
            else Configuration(access_token=access_token)
        # Kept-alive connections (the SDK's default is 5 per CPU): a thread that finds
        # none free opens one, and closes it after use, a new TLS handshake each time.
        config.connection_pool_maxsize = connections
        self.api = MessagingApi(ApiClient(config))
        self.timeout, self.clock = timeout, clock
        self._host = config.host
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         "User-Agent": self.api.api_client.user_agent,
                         "Authorization": f"Bearer {access_token}"}
        self.chat_mode = chat_mode  # chat on in LINE Official Account Manager: we mark read

    def render(self, reply: Reply, fired: Sequence[str] = ()) -> Outbound:
        """Render a reply into request-sized batches."""
        return {"batches": render(reply)}

    def send(self, key: ConvKey, delivery: Delivery, outbound: Outbound) -> None:
        """Deliver the batches not yet delivered; raise SendError saying how far it got."""
        batches = outbound["batches"]
        for i in range(delivery.sent, len(batches)):
            try:
                if i == 0:
                    self._first(key, delivery, batches[0])
                else:
                    self.push(key, batches[i], retry_key(delivery.event_id, i))
            except SendError as exc:
                exc.sent = i
                raise
        if delivery.data.get("read_token"):  # answered: now, and only now, it shows 既読
            self.mark_read(key, delivery.data["read_token"])

    def _first(self, key: ConvKey, d: Delivery, batch: Batch) -> None:
        """Batch 0: by reply while the token is surely valid, else by push (see the module)."""
        token = d.data.get("reply_token")
        if token and self.clock() - d.received_at < TOKEN_TRUST:
            self._reply(key, d, batch)
            return
        tried_by_reply = bool(token) and d.sending_at is not None \
            and d.sending_at - d.received_at < TOKEN_TRUST
        if d.unknown and tried_by_reply and not d.safety:
            logger.warning("event %s: a reply's outcome is unknown and cannot be checked any "
                           "more; not resent", d.event_id)
            return
        if d.unknown and tried_by_reply:
            logger.warning("event %s: a reply's outcome is unknown; the safety answer is "
                           "pushed again (it may arrive twice)", d.event_id)
        self.push(key, batch, retry_key(d.event_id, 0))

    def _reply(self, key: ConvKey, d: Delivery, batch: Batch) -> None:
        try:
            self._call(self._post, REPLY_PATH, {"replyToken": d.data["reply_token"],
                                                "messages": batch})
        except ApiException as exc:
            if not _is_spent_token(exc):
                raise _send_error(exc) from exc
            if d.unknown:  # within the token's life: our earlier try used it
                logger.info("event %s: reply token already used by the earlier try; delivered",
                            d.event_id)
                return
            logger.info("event %s: reply token refused; pushing instead", d.event_id)
            d.data.pop("reply_token", None)  # kept so by the dispatcher: never tried again
            self.push(key, batch, retry_key(d.event_id, 0))

    def push(self, key: ConvKey, batch: Batch, retry_key: str) -> None:
        """Push one request of messages; the retry key makes a repeat a no-op at LINE."""
        try:
            self._call(self._post, PUSH_PATH, {"to": key.user, "messages": batch},
                       {"X-Line-Retry-Key": retry_key})
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
            reason = getattr(exc, "reason", exc)
            unknown = not isinstance(reason, _NOT_SENT) and not isinstance(exc, _NOT_SENT)
            raise SendError(f"Messaging API unreachable: {type(reason).__name__}", retry=True,
                            unknown=unknown) from exc

    def _post(self, path: str, payload: dict[str, Any], headers: dict[str, str] | None = None,
              _request_timeout: float = 30.0, _preload_content: bool = True) -> RESTResponse:
        """POST rendered messages as they are, through the SDK's own connection pool.

        The SDK's typed requests would turn our JSON (already checked against LINE's
        limits by `render`) into models and back: a third of the CPU an event cost.
        Errors are the SDK's own: ApiException with LINE's status, headers and body.
        `_request_timeout` and `_preload_content` are what `_call` passes to SDK methods;
        here the answer's body is always read (so the connection is reused), never parsed.
        """
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        pool = self.api.api_client.rest_client.pool_manager
        try:
            raw = pool.request("POST", self._host + path, body=body,
                               headers={**self._headers, **(headers or {})},
                               timeout=urllib3.Timeout(total=_request_timeout))
        except urllib3.exceptions.SSLError as exc:  # as the SDK: a status-0 ApiException
            raise ApiException(status=0, reason=f"{type(exc).__name__}\n{exc}") from exc
        response = RESTResponse(raw)
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response)
        return response

    def profile(self, key: ConvKey) -> str | None:
        """The person's LINE display name (only used when CONSOLE_SHOW_PROFILE is on)."""
        try:
            response = self._call(self.api.get_profile_with_http_info, key.user)
            name = json.loads(response.raw_data).get("displayName")
            return str(name) if name else None
        except (SendError, ApiException, ValueError) as exc:
            logger.warning("display name not available: %s", type(exc).__name__)
            return None

    def mark_read(self, key: ConvKey, receipt: str) -> None:
        """With chat mode on, show the person's messages up to this one as read (best effort)."""
        if not self.chat_mode:
            return  # with chat off, LINE marks every message read by itself
        try:
            self._call(self.api.mark_messages_as_read_by_token_with_http_info,
                       MarkMessagesAsReadByTokenRequest(markAsReadToken=receipt))
        except (SendError, ApiException) as exc:  # a courtesy: never fail the answer for it
            logger.warning("marking a message read failed: %s", type(exc).__name__)

    def loading(self, key: ConvKey) -> None:
        """Show the typing dots in a one-to-one chat while an answer takes time."""
        if key.user.startswith("U"):
            self._call(self.api.show_loading_animation_with_http_info, ShowLoadingAnimationRequest(
                chatId=key.user, loadingSeconds=LOADING_SECONDS))


def _send_error(exc: ApiException) -> SendError:
    status = exc.status or 0  # 0: the SDK failed before any HTTP status (e.g. TLS)
    retry = status == 0 or status == 429 or status >= 500
    return SendError(f"Messaging API {exc.status}: {_line_message(exc)}", retry=retry,
                     retry_after=_retry_after(exc) if status == 429 else None)
