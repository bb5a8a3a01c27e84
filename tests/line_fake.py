"""A fake LINE platform for tests: signed webhook events in, a Messaging API that records out."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import time
from typing import Any, Callable

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.channels.line.plain import message_text

REPLY = "/v2/bot/message/reply"
PUSH = "/v2/bot/message/push"
LOADING = "/v2/bot/chat/loading/start"
PROFILE = "/v2/bot/profile/"
MARK_READ = "/v2/bot/chat/markAsRead"
RICHMENU = "/v2/bot/richmenu"
BOT_ID = "U0000000000000000000000000000b0t"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid() -> str:
    """A webhookEventId-shaped id (26 Crockford base-32 characters)."""
    return "".join(_CROCKFORD[b % 32] for b in os.urandom(26))


def sign(body: str, secret: str) -> str:
    """The X-Line-Signature LINE would send for this body."""
    digest = hmac.new(secret.encode(), body.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _like_line(path: str) -> Callable[[dict], tuple[int, dict]]:
    """What LINE answers on success: the ids of the messages it took."""
    def answer(body: dict) -> tuple[int, dict]:
        if path == LOADING:
            return 202, {}
        sent = [{"id": str(461230966842064897 + i), "quoteToken": "q" + ulid()}
                for i in range(len(body.get("messages", [])))]
        return 200, {"sentMessages": sent}
    return answer


class FakeLine:
    """A Messaging API on loopback: answers like LINE, records every request.

    As LINE does, it takes a reply token once (a second use gets 400 "Invalid reply
    token") and a push's retry key once (a repeat gets 409). `accepted` lists the
    requests it took: what the person really received.
    """

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.behaviour: dict[str, Callable[[dict], tuple]] = {}
        self.delay: dict[str, float] = {}
        self.received: list[tuple[str, dict, dict]] = []
        self.accepted: list[tuple[str, dict, dict]] = []
        self._used: set[str] = set()
        self.issued: dict[str, float] = {}  # reply token -> when LINE sent it (if tracked)
        self.token_life: float | None = None  # tokens older than this are refused
        self._lock = threading.Lock()
        self.in_flight: dict[str, int] = {}       # per endpoint: requests being answered now
        self.most_in_flight: dict[str, int] = {}  # per endpoint: the most answered at once
        self.menus: dict[str, dict] = {}       # rich menus LINE holds, by id
        self.images: dict[str, bytes] = {}     # their images
        self.default_menu: str | None = None

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def start(self) -> None:
        self.server.start()
        for path in (REPLY, PUSH, LOADING, MARK_READ):
            self.server.expect_request(path, method="POST").respond_with_handler(self._handler(path))
        self.server.expect_request(re.compile("^/v2/bot/(richmenu|user/all/richmenu)(/.*)?$")) \
            .respond_with_handler(self._richmenu)
        self.server.expect_request(re.compile("^/v2/bot/profile/U[0-9a-f]{32}$"),
                                   method="GET").respond_with_handler(self._profile)

    def _profile(self, request: Request) -> Response:
        with self._lock:
            self.received.append((PROFILE, {}, dict(request.headers)))
        user_id = request.path.rsplit("/", 1)[1]
        body = {"userId": user_id, "displayName": "山田花子",
                "pictureUrl": "https://profile.example/picture", "language": "ja"}
        return Response(json.dumps(body), 200, content_type="application/json")

    def _richmenu(self, request: Request) -> Response:
        """Rich menus as LINE keeps them: create, list, image, default, delete."""
        path, method = request.path, request.method
        with self._lock:
            self.received.append((f"{method} {path}", {}, dict(request.headers)))
            status, body = self._menu_call(method, path, request)
        if isinstance(body, bytes):
            return Response(body, status, content_type="image/png")
        return Response(json.dumps(body), status, content_type="application/json")

    def _menu_call(self, method: str, path: str, request: Request) -> tuple[int, Any]:
        parts = path.split("/")  # ['', 'v2', 'bot', 'richmenu', id, 'content']
        if path == RICHMENU and method == "POST":
            rid = "richmenu-" + os.urandom(16).hex()
            self.menus[rid] = {**json.loads(request.get_data(as_text=True)), "richMenuId": rid}
            return 200, {"richMenuId": rid}
        if path == RICHMENU + "/list":
            return 200, {"richmenus": list(self.menus.values())}
        if path == "/v2/bot/user/all/richmenu" and method == "GET":
            return (200, {"richMenuId": self.default_menu}) if self.default_menu else \
                (404, {"message": "no default rich menu"})
        rid = parts[-1] if "user" in parts else parts[4] if len(parts) > 4 else ""
        if rid not in self.menus:
            return 404, {"message": "Not found"}
        if "user" in parts and method == "POST":
            if rid not in self.images:
                return 400, {"message": "must upload richmenu image before applying it to user"}
            self.default_menu = rid
            return 200, {}
        if path.endswith("/content") and method == "POST":
            if request.headers.get("Content-Type") not in ("image/png", "image/jpeg"):
                return 415, {"message": "Unsupported Media Type"}
            self.images[rid] = request.get_data()
            return 200, {}
        if path.endswith("/content"):
            return (200, self.images[rid]) if rid in self.images else (404, {"message": "Not found"})
        if method == "DELETE":
            self.menus.pop(rid)
            self.images.pop(rid, None)
            self.default_menu = None if self.default_menu == rid else self.default_menu
            return 200, {}
        return 200, self.menus[rid]

    def stop(self) -> None:
        self.server.clear()
        if self.server.is_running():
            self.server.stop()

    def _handler(self, path: str) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            body = json.loads(request.get_data(as_text=True) or "{}")
            headers = dict(request.headers)
            with self._lock:
                self.received.append((path, body, headers))
                self.in_flight[path] = self.in_flight.get(path, 0) + 1
                self.most_in_flight[path] = max(self.most_in_flight.get(path, 0),
                                                self.in_flight[path])
            try:
                time.sleep(self.delay.get(path, 0))
                status, answer, *extra = self.behaviour.get(path, _like_line(path))(body)
            finally:
                with self._lock:
                    self.in_flight[path] -= 1
            if 200 <= status < 300:
                once = body.get("replyToken") if path == REPLY else \
                    headers.get("X-Line-Retry-Key") if path == PUSH else None
                with self._lock:
                    expired = path == REPLY and self.token_life is not None and \
                        time.time() - self.issued.get(once or "", time.time()) > self.token_life
                    if once and (once in self._used or expired):
                        status, answer = ((400, {"message": "Invalid reply token"}) if path == REPLY
                                          else (409, {"message": "The retry key is already accepted"}))
                    else:
                        if once:
                            self._used.add(once)
                        self.accepted.append((path, body, headers))
            return Response(json.dumps(answer), status, content_type="application/json",
                            headers=extra[0] if extra else None)
        return handle

    def delivered(self) -> list[dict]:
        """The message requests LINE took (reply or push), in order."""
        with self._lock:
            return [b for p, b, _ in self.accepted if p in (REPLY, PUSH)]

    def requests(self, path: str) -> list[tuple[dict, dict]]:
        """The bodies and headers received on one endpoint, in order."""
        with self._lock:
            return [(b, h) for p, b, h in self.received if p == path]

    def texts(self, path: str | None = None) -> list[str]:
        """Every message the bot sent (by reply or push) as text (cards compact), in order."""
        with self._lock:
            return [message_text(m) for p, b, _ in self.received
                    if p in ((REPLY, PUSH) if path is None else (path,))
                    for m in b.get("messages", [])]

    def wait_for(self, path: str, count: int, timeout: float = 10.0) -> list[tuple[dict, dict]]:
        """Wait until `count` requests reached `path`; fail the test if they never do."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.requests(path)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests to {path}, got {len(self.requests(path))}: "
                             f"{self.received}")

    def sent_count(self) -> int:
        """How many messages requests (reply + push) arrived."""
        return len(self.requests(REPLY)) + len(self.requests(PUSH))


class LineUser:
    """One person on LINE, sending really signed webhooks to the app."""

    def __init__(self, client: Any, secret: str, user_id: str = "U" + "1" * 32):
        self.client, self.secret, self.user_id = client, secret, user_id
        self.clock = int(time.time() * 1000)

    def event(self, type_: str, *, source: dict | None = None, ts: int | None = None,
              event_id: str | None = None, mode: str = "active", redelivery: bool = False,
              reply_token: str | None = "auto", **fields: Any) -> dict:
        """A webhook event with every v3 field LINE sends."""
        if ts is None:
            self.clock += 1000
            ts = self.clock
        ev = {"type": type_, "mode": mode, "timestamp": ts,
              "source": source or {"type": "user", "userId": self.user_id},
              "webhookEventId": event_id or ulid(),
              "deliveryContext": {"isRedelivery": redelivery}}
        if reply_token and mode == "active":
            ev["replyToken"] = ulid().lower() if reply_token == "auto" else reply_token
        ev.update(fields)
        return ev

    def text(self, text: str, **kw: Any) -> dict:
        msg = {"id": str(int(time.time() * 1e6)), "type": "text", "text": text,
               "quoteToken": "q" + ulid(), "markAsReadToken": "r" + ulid()}
        return self.event("message", message=msg, **kw)

    def tap(self, data: str, **kw: Any) -> dict:
        return self.event("postback", postback={"data": data}, **kw)

    def sticker(self, **kw: Any) -> dict:
        msg = {"id": "1", "type": "sticker", "packageId": "446", "stickerId": "1988",
               "stickerResourceType": "STATIC", "quoteToken": "q" + ulid()}
        return self.event("message", message=msg, **kw)

    def follow(self, **kw: Any) -> dict:
        return self.event("follow", follow={"isUnblocked": False}, **kw)

    def body(self, *events: dict) -> str:
        return json.dumps({"destination": BOT_ID, "events": list(events)}, ensure_ascii=False)

    def post(self, *events: dict, body: str | None = None, signature: str | None = "auto",
             client: Any = None) -> Any:
        """POST /callback with a correct signature (or the one given)."""
        body = self.body(*events) if body is None else body
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Line-Signature"] = sign(body, self.secret) if signature == "auto" else signature
        return (client or self.client).post("/callback", data=body.encode("utf-8"), headers=headers)
