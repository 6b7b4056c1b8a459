"""``dfos monitor serve`` and ``dfos monitor export``: the live monitor and its static copy."""

from __future__ import annotations

from pathlib import Path

import click

from dfos.cli.context import Cli, pass_cli

__all__ = ["monitor_group"]


@click.group("monitor")
def monitor_group() -> None:
    """The dfoMonitor, AB monitor, health check and history as one web application."""


@monitor_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (127.0.0.1: this machine only).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@pass_cli
def serve_cmd(cli: Cli, host: str, port: int) -> None:
    """Serve the live monitor until Ctrl-C.

    Reading may be public (MONITOR_PUBLIC); actions need a login: MONITOR_PASSWORD,
    or the one-time login link printed here when no password is configured.
    """
    import uvicorn

    from dfos.monitor.app import create_app

    workspace = cli.workspace()
    app = create_app(workspace)
    token = app.state.monitor.token
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/"
    click.echo(f"dfos monitor of {workspace.root}: {url}")
    if token:
        click.echo(f"log in: {url}login?token={token}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: anyone who can reach it sees the login page", err=True)
    click.echo("Ctrl-C stops it.")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@monitor_group.command("export")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@pass_cli
def export_cmd(cli: Cli, directory: Path) -> None:
    """Write the monitor pages as static HTML without actions into DIRECTORY (replaced atomically)."""
    from dfos.monitor.export import export_site

    pages = export_site(cli.workspace(), directory)
    click.echo(f"{pages} pages in {directory.resolve()}")
