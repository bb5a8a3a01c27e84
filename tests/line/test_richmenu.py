"""The rich menu: its image, its areas, and `flask richmenu` against the fake Messaging API."""
from __future__ import annotations

import io
import os

import pytest
from linebot.v3.messaging import RichMenuRequest
from PIL import Image, ImageDraw

from bot.channels.line import richmenu
from bot.channels.line.menu_image import FontMissing, bounds, find_font, load_font
from bot.engine.postback import Postback

from ..line_fake import RICHMENU

COMMANDS = ["restart", "contacts", "emergency", "staff", "help", "delete"]


@pytest.fixture(scope="module", autouse=True)
def font():
    """Debian's Noto Sans CJK; skip without it (CI, with REQUIRE_BROWSER, installs it)."""
    try:
        return find_font()
    except FontMissing:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but fonts-noto-cjk is missing")
        pytest.skip("the rich menu tests need a Japanese font: apt-get install fonts-noto-cjk")


@pytest.fixture(scope="module")
def png(font) -> bytes:
    return richmenu.image(font)


def test_the_image_is_lines_large_size_png_under_1_mb(png):
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (2500, 1686) and len(png) <= 1024 * 1024


def test_every_label_is_drawn_in_real_japanese_glyphs(png):
    font = load_font(find_font(), 100)
    missing = glyph(font, "\U0010fffd")  # what the font draws for a character it lacks
    for label, note, _ in richmenu.AREAS:
        for ch in set(label + note) - {" ", "・"}:
            assert glyph(font, ch) not in (missing, glyph(font, " ")), f"no glyph for {ch!r}"
    image = Image.open(io.BytesIO(png)).convert("L")
    for i in range(6):  # each tile has dark ink where its label is
        x, y, w, h = bounds(i)
        tile = image.crop((x + 40, y + int(h * 0.3), x + w - 40, y + int(h * 0.58)))
        assert tile.getextrema()[0] < 100, f"tile {i} has no label"


def glyph(font, ch: str) -> bytes:
    image = Image.new("L", (140, 140))
    ImageDraw.Draw(image).text((10, 10), ch, font=font, fill=255)
    return image.tobytes()


def test_a_missing_font_is_an_error_that_says_what_to_install():
    with pytest.raises(FontMissing, match="fonts-noto-cjk"):
        _no_font()


def _no_font():
    from bot.channels.line import menu_image
    saved = menu_image.FONT_PATHS
    menu_image.FONT_PATHS = ("/nonexistent/font.ttc",)
    try:
        return menu_image.find_font(None)
    finally:
        menu_image.FONT_PATHS = saved


def test_six_areas_cover_the_image_and_send_the_engines_commands():
    menu = richmenu.menu()
    assert RichMenuRequest.from_dict(menu).to_dict() == menu  # the SDK's model reads it back
    areas = menu["areas"]
    assert sum(a["bounds"]["width"] * a["bounds"]["height"] for a in areas) == 2500 * 1686
    assert [Postback.decode(a["action"]["data"]).name for a in areas] == COMMANDS
    assert [a["action"]["label"] for a in areas] == ["相談をはじめる", "相談窓口", "緊急のとき",
                                                   "スタッフと話す", "使い方", "記録の削除"]
    assert len(menu["chatBarText"]) <= 14


def menu_calls(line_api):
    return [p for p, _, _ in line_api.received if "richmenu" in p]


def test_the_command_creates_uploads_and_sets_the_default_and_a_rerun_changes_nothing(
        make_app, line_api, png):
    app = make_app()
    first = app.test_cli_runner().invoke(args=["richmenu"])
    assert first.exit_code == 0, first.output
    [(rid, menu)] = line_api.menus.items()
    assert line_api.default_menu == rid and line_api.images[rid] == png
    assert menu["areas"] == richmenu.menu()["areas"] and menu["name"].startswith(richmenu.NAME)
    assert f"POST {RICHMENU}/{rid}/content" in menu_calls(line_api)
    upload = next(h for p, _, h in line_api.received if p == f"POST {RICHMENU}/{rid}/content")
    assert upload["Content-Type"] == "image/png" and upload["Authorization"] == "Bearer test-channel-token"

    before = len(menu_calls(line_api))
    again = app.test_cli_runner().invoke(args=["richmenu"])
    assert again.exit_code == 0 and "unchanged" in again.output
    calls = menu_calls(line_api)[before:]
    assert not any(c.startswith("POST") or c.startswith("DELETE") for c in calls), calls
    assert list(line_api.menus) == [rid] and line_api.default_menu == rid


def test_a_run_that_stopped_before_the_upload_is_completed_and_old_menus_go(make_app, line_api, png):
    app = make_app()
    stale = "richmenu-old"
    line_api.menus[stale] = {**richmenu.menu(f"{richmenu.NAME} 0123456789ab"), "richMenuId": stale}
    line_api.images[stale] = b"old"
    line_api.default_menu = stale
    half = richmenu.named(png)  # created by an earlier run, image never uploaded
    line_api.menus["richmenu-half"] = {**half, "richMenuId": "richmenu-half"}
    line_api.menus["richmenu-theirs"] = {**richmenu.menu("made in the console"),
                                         "richMenuId": "richmenu-theirs"}
    result = app.test_cli_runner().invoke(args=["richmenu"])
    assert result.exit_code == 0, result.output
    assert line_api.images["richmenu-half"] == png and line_api.default_menu == "richmenu-half"
    assert set(line_api.menus) == {"richmenu-half", "richmenu-theirs"}  # not someone else's


def test_the_command_says_what_is_missing(make_app, tmp_path):
    app = make_app(LINE_CHANNEL_ACCESS_TOKEN=None, LINE_CHANNEL_SECRET=None)
    result = app.test_cli_runner().invoke(args=["richmenu"])
    assert result.exit_code != 0 and "LINE_CHANNEL_ACCESS_TOKEN" in result.output
    saved = app.test_cli_runner().invoke(args=["richmenu", "--image-only", "--save",
                                               str(tmp_path / "menu.png")])
    assert saved.exit_code == 0 and (tmp_path / "menu.png").stat().st_size > 10_000
