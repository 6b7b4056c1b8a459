"""``dfos monitor serve``, ``dfos monitor export`` and ``dfos monitor rotate-secret``: the live monitor,
its static copy, and revoking every session."""

from __future__ import annotations

import shlex
import socket
from pathlib import Path

import click

from dfos.cli.context import Cli, pass_cli
from dfos.errors import WorkspaceError

__all__ = ["monitor_group"]


@click.group("monitor")
def monitor_group() -> None:
    """The dfoMonitor, AB monitor, health check and history as one web application."""


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (before anything is printed): a busy port fails here."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise WorkspaceError(f"cannot listen on {host}:{port}: {exc.strerror}; check --host") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise WorkspaceError(f"cannot listen on {host}:{port}: {exc.strerror}; is another server using the "
                             "port? choose another with --port") from None
    sock.set_inheritable(True)
    return sock


@monitor_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (127.0.0.1: this machine only).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@pass_cli
def serve_cmd(cli: Cli, host: str, port: int) -> None:
    """Serve the live monitor until Ctrl-C.

    Reading may be public (MONITOR_PUBLIC); actions need a login: the password
    (DFOS_MONITOR_PASSWORD, MONITOR_PASSWORD_FILE or MONITOR_PASSWORD), or the
    one-time login link printed here when no password is configured.
    A busy port fails (exit 3) before anything is printed.
    """
    import uvicorn

    from dfos.monitor.app import create_app
    from dfos.monitor.security.guard import SERVER_HEADER_LIMIT

    workspace = cli.workspace()
    app = create_app(workspace)
    sock = _listen(host, port)
    state = app.state.monitor
    token, state.token = state.token, ""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/"
    click.echo(f"dfos monitor of {workspace.root}: {url}")
    if token:
        click.echo(f"log in: {url}login?token={token}")
    del token
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: anyone who can reach it sees the login page", err=True)
    click.echo("Ctrl-C stops it.")
    config = uvicorn.Config(app, log_level="warning", h11_max_incomplete_event_size=SERVER_HEADER_LIMIT,
                            server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


@monitor_group.command("export")
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False),
              help="The export directory (the same as DIRECTORY); default EXPORT_DIR, else $DFO_MON_DIR/export.")
@pass_cli
def export_cmd(cli: Cli, directory: Path | None, out: Path | None) -> None:
    """Write the monitor pages as static HTML without actions (no forms, no login) for the QC web server.

    The dfoMonitor, the AB monitors of the dates in its table, the health check and the history go into
    the directory (DIRECTORY or --out), replaced in one step: a failed or killed export leaves the
    previous one.  Then EXPORT_COMMAND, when set, publishes it (e.g. 'rsync -a {dir}/ host:/qc/web/');
    its failure is said in one line (exit 6) and the export is kept.  'dfos cron install' runs this
    every EXPORT_EVERY minutes.
    """
    from dfos.errors import ExternalToolError, UsageError
    from dfos.monitor.export import export_dir, export_site, publish

    if directory is not None and out is not None and directory != out:
        raise UsageError("name the export directory once: DIRECTORY or --out DIRECTORY")
    workspace = cli.workspace()
    target = (out or directory or export_dir(workspace)).resolve()
    pages = export_site(workspace, target)
    click.echo(f"{pages} pages in {target}")
    done = publish(workspace, target)
    if done is None:
        return
    shown = " ".join(shlex.quote(a) for a in done.argv)
    if done.code:
        raise ExternalToolError(f"EXPORT_COMMAND failed (exit {done.code}): {shown}" + (f": {done.said}" if done.said
                                else "") + f"; the export in {target} is kept")
    click.echo(f"published: {shown}")


@monitor_group.command("rotate-secret")
@pass_cli
def rotate_secret_cmd(cli: Cli) -> None:
    """Replace the session-signing key and end every session.

    Every cookie stops working on every server of this workspace (running ones
    too): everybody logs in again.  Use it when the key may have leaked.
    """
    from dfos.monitor.security.audit import audit
    from dfos.monitor.security.sessions import SessionTable, rotate_secret

    workspace = cli.workspace()
    rotate_secret(workspace.root)
    ended = SessionTable(workspace.root).clear()
    audit(workspace, "cli", "-", "rotate_secret", "")
    click.echo(f"new session key in {workspace.root / '.monitor_secret'}; {ended} session(s) ended")


@monitor_group.group("user")
def user_group() -> None:
    """Named monitor accounts (MONITOR_USERS): who logs in, decides and certifies."""


def _read_password(name: str) -> str:
    """The password: asked twice on a terminal, else the first line of standard input."""
    import sys

    from dfos.errors import UsageError

    if sys.stdin.isatty():
        password = str(click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True))
    else:
        try:
            password = sys.stdin.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the password from standard input: {exc}") from None
    if not password:
        raise UsageError("no password given (type it, or pipe it on standard input)")
    return password


@user_group.command("add")
@click.argument("name")
@pass_cli
def user_add_cmd(cli: Cli, name: str) -> None:
    """Add the account NAME, or give it a new password.

    The password is read from standard input (asked twice on a terminal); only a
    salted scrypt hash is written, to MONITOR_USERS (default .monitor_users in the
    workspace root, mode 600).  A new password ends NAME's open sessions.
    """
    from dfos.monitor.security.accounts import accounts_path, add_account, check_name
    from dfos.monitor.security.audit import audit
    from dfos.monitor.security.sessions import SessionTable

    check_name(name)
    workspace = cli.workspace()
    path = accounts_path(workspace)
    new = add_account(path, name, _read_password(name))
    ended = 0 if new else SessionTable(workspace.root).end_user(name)
    audit(workspace, "cli", "-", "user_add" if new else "user_password", name)
    click.echo(f"{'added' if new else 'new password for'} {name} in {path}" + (f"; {ended} session(s) ended"
                                                                               if ended else ""))


@user_group.command("remove")
@click.argument("name")
@pass_cli
def user_remove_cmd(cli: Cli, name: str) -> None:
    """Remove the account NAME and end its open sessions."""
    from dfos.monitor.security.accounts import accounts_path, remove_account
    from dfos.monitor.security.audit import audit
    from dfos.monitor.security.sessions import SessionTable

    workspace = cli.workspace()
    path = accounts_path(workspace)
    remove_account(path, name)
    ended = SessionTable(workspace.root).end_user(name)
    audit(workspace, "cli", "-", "user_remove", name)
    click.echo(f"removed {name} from {path}; {ended} session(s) ended")


@user_group.command("list")
@pass_cli
def user_list_cmd(cli: Cli) -> None:
    """The named accounts, one per line."""
    from dfos.monitor.security.accounts import accounts_path, read_accounts

    for name in sorted(read_accounts(accounts_path(cli.workspace()))):
        click.echo(name)
