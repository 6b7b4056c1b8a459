"""The ``dfos`` command: global options, the command list, and the error contract.

Operator errors (:class:`~dfos.errors.DfosError`) and usage errors print one
line, ``Error: <message>``, on stderr and exit with the error's code (usage errors with 2).
Foreign exceptions an operator can act on are translated here, at the boundary: a file
system refusal (``OSError``) exits 3, a file that is not UTF-8 text or a FITS header that does
not verify (astropy ``VerifyError``) 5, a database fault its code from :mod:`dfos.db.faults`.
Only bugs show a traceback.  Warnings are one line each, cut like error messages.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path, PurePath
from types import TracebackType

import click

from dfos import __version__
from dfos.cli.commands.archive import archive_group, download_cmd
from dfos.cli.commands.association import create_ab_cmd, explain_cmd
from dfos.cli.commands.auto import auto_daily_cmd, cron_group
from dfos.cli.commands.cascade import (
    cascade_stat_cmd,
    create_job_cmd,
    exec_cascade_cmd,
    fetch_mcal_cmd,
    fetch_raw_cmd,
    stop_cascade_cmd,
    watch_queue_cmd,
)
from dfos.cli.commands.closing import certify_cmd, cleanup_cmd, finish_cmd, ingest_cmd, move_cmd, remove_cmd
from dfos.cli.commands.data import demo_data_cmd, headers_cmd
from dfos.cli.commands.instruments import instruments_cmd
from dfos.cli.commands.monitor import monitor_group
from dfos.cli.commands.oca import oca_group
from dfos.cli.commands.processing import process_ab_cmd
from dfos.cli.commands.qc import health_cmd, process_qc_cmd, qc1_cmd, score_cmd, trend_cmd
from dfos.cli.commands.status import flag_cmd, status_cmd
from dfos.cli.commands.workspace import config_group, env_cmd, init_cmd
from dfos.cli.context import Cli
from dfos.errors import MAX_MESSAGE, DfosError, ExitCode, FormatError, WorkspaceError

__all__ = ["cli", "main"]


class _WarningFormatter(logging.Formatter):
    """``Warning: <message>``: one line, at most :data:`~dfos.errors.MAX_MESSAGE` characters (data quoted in a
    warning, e.g. a 5 MB DFO_STATUS line, is never echoed in full)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.capitalize()}: {_one_line(record.getMessage())}"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="dfos")
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    help="Workspace directory (default: $DFOS_ROOT, else the nearest dfos.toml above the current directory).",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a configuration key for this command (repeatable); see 'dfos config show'.",
)
@click.pass_context
def cli(ctx: click.Context, root: Path | None, assignments: tuple[str, ...]) -> None:
    """dfos: the Data Flow Operations System for ESO-style observatory data.

    Typical day: 'dfos headers -d DATE' brings a night's headers in, 'dfos
    status' shows what each date needs next.  Every command finds its
    workspace from --root, $DFOS_ROOT or the current directory.
    """
    ctx.obj = Cli.from_options(root, assignments)


for command in (init_cmd, instruments_cmd, env_cmd, config_group, status_cmd, flag_cmd, headers_cmd, demo_data_cmd,
                oca_group, create_ab_cmd, explain_cmd, process_ab_cmd, create_job_cmd, exec_cascade_cmd,
                cascade_stat_cmd, stop_cascade_cmd, watch_queue_cmd, fetch_raw_cmd, fetch_mcal_cmd, process_qc_cmd,
                score_cmd, qc1_cmd, trend_cmd, health_cmd, monitor_group, certify_cmd, move_cmd, ingest_cmd, finish_cmd,
                remove_cmd, cleanup_cmd, archive_group, download_cmd, auto_daily_cmd, cron_group):
    cli.add_command(command)


def _one_line(message: str) -> str:
    """The message on one line, cut to :data:`~dfos.errors.MAX_MESSAGE` characters."""
    line = " ".join(message.split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "\u2026"


def _decoded_file(traceback: TracebackType | None) -> PurePath | None:
    """The file a ``UnicodeDecodeError`` came from, when ``Path.read_text`` read it (its frame holds it)."""
    found = None
    while traceback is not None:
        frame = traceback.tb_frame
        if frame.f_code.co_name == "read_text" and isinstance(frame.f_locals.get("self"), PurePath):
            found = frame.f_locals["self"]
        traceback = traceback.tb_next
    return found


def foreign_error(exc: BaseException) -> DfosError | None:
    """The operator's error for a foreign exception that reached the command line; None for a bug.

    A file that is not UTF-8 text, a FITS header astropy refuses (``VerifyError``): 5; a database
    fault: :func:`dfos.db.faults.database_fault`.  Modules are looked up only when loaded (an exception
    of a module never imported cannot have been raised).
    """
    if isinstance(exc, UnicodeDecodeError):
        path = _decoded_file(exc.__traceback__)
        where = f"{path} is" if path else "a file dfos read is"
        return FormatError(f"{where} not UTF-8 text ({exc.reason} at byte {exc.start}); fix or replace it")
    verify = sys.modules.get("astropy.io.fits.verify")
    if verify is not None and isinstance(exc, verify.VerifyError):
        return FormatError(f"a FITS header does not verify: {exc}")
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError):
        from dfos.db.faults import database_fault

        return database_fault(exc, "")
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_WarningFormatter())
    root_logger = logging.getLogger("dfos")
    root_logger.handlers[:] = [handler]
    root_logger.setLevel(logging.WARNING)
    root_logger.propagate = False
    try:
        status = cli.main(args=argv, prog_name="dfos", standalone_mode=False)
    except DfosError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        return exc.exit_code
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"Error: {_one_line(exc.format_message())}{hint}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
        return exc.exit_code
    except OSError as exc:
        # the file system refused something (permissions, a missing or full disk): the operator can act
        where = f"{exc.filename}: " if exc.filename else ""
        error = WorkspaceError(f"{where}{exc.strerror or exc}; check that the path exists and is writable")
        click.echo(f"Error: {error.message}", err=True)  # one line, cut like every other error
        return error.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        return ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        translated = foreign_error(exc)
        if translated is None:
            raise  # a bug: its traceback is what a developer needs
        click.echo(f"Error: {translated.message}", err=True)
        return translated.exit_code
    return status if isinstance(status, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
