"""``dfos archive serve`` and ``dfos download``: the archive over HTTP, and fetching a date from it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import date_option
from dfos.cli.progress import progress_bar

__all__ = ["archive_group", "download_cmd"]


@click.group("archive")
def archive_group() -> None:
    """The archive side: serve an archive directory over HTTP (the protocol dfos downloads with)."""


@archive_group.command("serve")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8081, show_default=True)
def archive_serve_cmd(directory: Path, host: str, port: int) -> None:
    """Serve DIRECTORY (laid out as <YYYY-MM-DD>/<ARCFILE>) over HTTP until Ctrl-C.

    Endpoints: /dates, /files?date=D[&checksums=1], /RETRIEVE?file_id=NAME[&processing=header],
    /stats.  Point a workspace at it with ARCHIVE_URL = "http://HOST:PORT".
    """
    import uvicorn

    from dfos.archive.server import create_archive_app

    click.echo(f"archive {directory.resolve()} on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(create_archive_app(directory), host=host, port=port, log_level="warning")


@click.command("download")
@date_option()
@click.option("--raw", "what", flag_value="raw", default=True, help="The raw frames (default).")
@click.option("--headers", "what", flag_value="headers", help="Only the headers (header intake).")
@click.option("--parallel", type=click.IntRange(1, 64), default=None,
              help="Transfers at once (default DOWNLOAD_SLOTS; 1 for OPSHUB).")
@pass_cli
def download_cmd(cli: Cli, day: date, what: str, parallel: int | None) -> None:
    """Fetch the frames of DATE from the archive into $DFO_RAW_DIR/DATE (or only their headers).

    Transfers are retried (DOWNLOAD_RETRIES), verified against the archive's SHA-256 and
    renamed into place; frames already there are kept.
    """
    from dfos.steps.fetch import fetch_many
    from dfos.steps.headers import extract_headers

    workspace = cli.workspace()
    if what == "headers":
        with progress_bar(f"headers {day}") as progress:
            intake = extract_headers(workspace, day, progress)
        click.echo(f"{day}: {len(intake.frames)} headers ({intake.written} new) in {intake.header_dir}")
        return
    names = [line.strip() for line in (workspace.mon_dir / f"list_hdr_{day.isoformat()}").read_text().splitlines()
             if line.strip()] if (workspace.mon_dir / f"list_hdr_{day.isoformat()}").is_file() else []
    if not names:
        with progress_bar(f"headers {day}") as progress:
            names = list(extract_headers(workspace, day, progress).frames)
    with progress_bar(f"raw frames {day}") as progress:
        paths = fetch_many(workspace, day, names, parallel, progress)
    click.echo(f"{day}: {len(paths)} raw frames in {workspace.raw_dir / day.isoformat()}")
