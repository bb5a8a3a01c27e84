"""The default rich menu: always under the chat, on phones and on PC, six areas.

`install()` makes LINE's default menu be this one, through the SDK's
`MessagingApi` and `MessagingApiBlob`. It is safe to run again: the menu's
name carries a digest of its areas and image, so an unchanged menu is found
and reused (its image uploaded if a previous run stopped before that), a
changed one is created and made default, and our older menus are deleted.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from linebot.v3.messaging import (ApiClient, ApiException, Configuration, MessagingApi,
                                  MessagingApiBlob, RichMenuRequest)

from ...engine.postback import Postback
from .limits import LABEL_MAX, clip
from .menu_image import COLUMNS, HEIGHT, WIDTH, Tile, bounds, draw

logger = logging.getLogger(__name__)
NAME = "soudan-bot default"       # our menus' names start with this
CHAT_BAR = "メニュー"             # the bar that opens the menu (LINE: at most 14 characters)
EMERGENCY_BG, EMERGENCY_INK = "#FDECEA", "#B71C1C"

# (label, note under it, command): what each area sends is the engine's postback.
AREAS = (("相談をはじめる", "はじめから質問に答える", "restart"),
         ("相談窓口", "電話・Webの窓口の一覧", "contacts"),
         ("緊急のとき", "110・119・いのちの相談", "emergency"),
         ("スタッフと話す", "人とのやり取りに切り替え", "staff"),
         ("使い方", "使える言葉とボタン", "help"),
         ("記録の削除", "やり取りの記録を消す", "delete"))


def tiles() -> list[Tile]:
    """The image's tiles, 緊急のとき in red."""
    return [Tile(label, note, EMERGENCY_BG, EMERGENCY_INK) if command == "emergency"
            else Tile(label, note) for label, note, command in AREAS]


def menu(name: str = NAME) -> dict[str, Any]:
    """The rich menu object LINE takes, as JSON: size, bar text and one postback per area."""
    areas = []
    for i, (label, _note, command) in enumerate(AREAS):
        x, y, w, h = bounds(i)
        areas.append({"bounds": {"x": x, "y": y, "width": w, "height": h},
                      "action": {"type": "postback", "label": clip(label, LABEL_MAX),
                                 "data": Postback.command(command).encode(),
                                 "displayText": label}})
    assert len(areas) == COLUMNS * 2
    return {"size": {"width": WIDTH, "height": HEIGHT}, "selected": True, "name": name,
            "chatBarText": CHAT_BAR, "areas": areas}


@dataclass(frozen=True)
class Installed:
    """What `install()` did: the default menu's id, and whether it was created or reused."""

    rich_menu_id: str
    created: bool
    uploaded: bool
    deleted: tuple[str, ...]


def named(image: bytes) -> dict[str, Any]:
    """The menu, named with a digest of its areas and its image."""
    digest = hashlib.sha256(json.dumps(menu(), sort_keys=True).encode() + image).hexdigest()[:12]
    return menu(f"{NAME} {digest}")


def install(api: MessagingApi, blob: MessagingApiBlob, image: bytes) -> Installed:
    """Make this menu LINE's default; idempotent (see the module)."""
    wanted = named(image)
    ours = [m for m in api.get_rich_menu_list().richmenus if (m.name or "").startswith(NAME)]
    same = next((m for m in ours if m.name == wanted["name"]), None)
    created = same is None
    rid = api.create_rich_menu(RichMenuRequest.from_dict(wanted)).rich_menu_id if same is None \
        else same.rich_menu_id
    uploaded = created or not _has_image(blob, rid)
    if uploaded:
        blob.set_rich_menu_image(rid, image, _headers={"Content-Type": "image/png"})
    if _default(api) != rid:
        api.set_default_rich_menu(rid)
    old = tuple(m.rich_menu_id for m in ours if m.rich_menu_id != rid)
    for other in old:
        api.delete_rich_menu(other)
    logger.info("rich menu %s is the default (created %s, image uploaded %s, %d old deleted)",
                rid, created, uploaded, len(old))
    return Installed(rid, created, uploaded, old)


def _has_image(blob: MessagingApiBlob, rid: str) -> bool:
    try:
        blob.get_rich_menu_image_with_http_info(rid, _preload_content=False)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _default(api: MessagingApi) -> str | None:
    try:
        return str(api.get_default_rich_menu_id().rich_menu_id)
    except ApiException as exc:
        if exc.status == 404:  # no default menu yet
            return None
        raise


def image(font_path: Any) -> bytes:
    """The menu's PNG, drawn with the font at `font_path`."""
    return draw(tiles(), font_path)


class DataHostClient(ApiClient):
    """An ApiClient that sends the SDK's api-data.line.me calls to another host (a fake, a proxy).

    MessagingApiBlob names api-data.line.me in every call, whatever the
    Configuration says; this replaces it when LINE_API_DATA_URL is set.
    """

    def __init__(self, configuration: Configuration, data_host: str | None):
        super().__init__(configuration)
        self.data_host = data_host

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        if self.data_host and kwargs.get("_host"):
            kwargs["_host"] = self.data_host
        return super().call_api(*args, **kwargs)


def clients(config: Any) -> tuple[MessagingApi, MessagingApiBlob]:
    """The Messaging API and its blob API, from the app's LINE settings."""
    host = config.get("LINE_API_BASE_URL")
    settings = Configuration(access_token=config["LINE_CHANNEL_ACCESS_TOKEN"],
                             **({"host": host} if host else {}))
    data_host = config.get("LINE_API_DATA_URL") or host
    return MessagingApi(ApiClient(settings)), MessagingApiBlob(DataHostClient(settings, data_host))
