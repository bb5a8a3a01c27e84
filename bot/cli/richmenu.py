"""`flask --app bot richmenu`: draw the rich menu and make it LINE's default (safe to rerun)."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("richmenu")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the menu's image to this PNG file.")
@click.option("--image-only", is_flag=True, help="Only draw the image (with --save); send nothing.")
@with_appcontext
def richmenu_command(save: Path | None, image_only: bool) -> None:
    """Create the rich menu, upload its image and make it the default; rerunning changes nothing."""
    from ..channels.line import richmenu  # the SDK and Pillow load only for this command
    from ..channels.line.menu_image import FontMissing, find_font

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
    api, blob = richmenu.clients(config)
    try:
        done = richmenu.install(api, blob, png)
    except richmenu.ApiException as exc:
        raise click.ClickException(f"LINE refused: {exc.status} {exc.reason}") from exc
    click.echo(f"default rich menu: {done.rich_menu_id} ("
               + ("created" if done.created else "unchanged, reused")
               + (", image uploaded" if done.uploaded else "")
               + (f", {len(done.deleted)} old menus deleted" if done.deleted else "") + ")")
