"""`flask --app bot richmenu`: draw the rich menu and make it LINE's default (safe to rerun)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from linebot.v3.messaging import ApiClient, ApiException, Configuration, MessagingApi, MessagingApiBlob

from ..channels.line import richmenu
from ..channels.line.menu_image import FontMissing, find_font


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


@click.command("richmenu")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the menu's image to this PNG file.")
@click.option("--image-only", is_flag=True, help="Only draw the image (with --save); send nothing.")
@with_appcontext
def richmenu_command(save: Path | None, image_only: bool) -> None:
    """Create the rich menu, upload its image and make it the default; rerunning changes nothing."""
    config = current_app.config
    try:
        png = richmenu.image(find_font(config.get("RICHMENU_FONT")))
    except FontMissing as exc:
        raise click.ClickException(str(exc)) from exc
    if save:
        save.write_bytes(png)
        click.echo(f"image: {save} ({len(png)} bytes, {richmenu.WIDTH}x{richmenu.HEIGHT})")
    if image_only:
        return
    if not config.get("LINE_CHANNEL_ACCESS_TOKEN"):
        raise click.ClickException("LINE_CHANNEL_ACCESS_TOKEN is not set")
    api, blob = clients(config)
    try:
        done = richmenu.install(api, blob, png)
    except ApiException as exc:
        raise click.ClickException(f"LINE refused: {exc.status} {exc.reason}") from exc
    click.echo(f"default rich menu: {done.rich_menu_id} ("
               + ("created" if done.created else "unchanged, reused")
               + (", image uploaded" if done.uploaded else "")
               + (f", {len(done.deleted)} old menus deleted" if done.deleted else "") + ")")
