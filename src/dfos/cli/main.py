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
from dfos.cli.lazy import LazyCommand, LazyGroup
from dfos.errors import MAX_MESSAGE, DfosError, ExitCode, FormatError, WorkspaceError

__all__ = ["COMMANDS", "cli", "main"]


def _commands(module: str, **summaries: str) -> dict[str, LazyCommand]:
    """The commands of ``dfos.cli.commands.<module>``: ``attribute="summary"`` each, named as click names them."""
    return {attribute.removesuffix("_cmd").removesuffix("_group").replace("_", "-"):
            LazyCommand(f"dfos.cli.commands.{module}:{attribute}", summary) for attribute, summary in summaries.items()}


#: Every command: its module and the first paragraph of its help (``dfos --help`` imports none of them;
#: tests/cli/test_startup.py checks this table against the commands).
COMMANDS: dict[str, LazyCommand] = {
    **_commands("workspace",
                init_cmd="Create a workspace: DIRECTORY/dfos.toml and the DFOS directory tree.",
                env_cmd="Print 'export NAME=value' lines for every DFOS variable.",
                config_group="Inspect the layered configuration."),
    **_commands("instruments", instruments_cmd="List every instrument dfos can run here, and what it needs."),
    **_commands("status",
                status_cmd="Show the date table: per DFO date, what is done (DONE), offered (OFFER) or waiting (WAIT).",
                flag_cmd="Append '<FLAG> <DATE> <now>' to DFO_STATUS, atomically under a lock."),
    **_commands("data",
                headers_cmd="Extract the headers of every raw frame of DATE from the archive.",
                demo_data_cmd="Write realistic synthetic nights of raw frames into the workspace archive."),
    **_commands("oca", oca_group="Inspect OCA rules (classification, organisation, association)."),
    **_commands("association",
                create_ab_cmd="Create the Association Blocks of DATE from its headers (DFOS createAB).",
                explain_cmd="Explain an AB's association: every input, every candidate, every missing piece."),
    **_commands("processing", process_ab_cmd="Run one AB (DFOS processAB): fetch inputs, run esorex, place products, "
                                             "record the run.",
                process_cluster_cmd="Run the ABs of a cluster job one after another (what a batch job of several "
                                    "short ABs runs)."),
    **_commands("cascade",
                create_job_cmd="Write the execution files of DATE and its block in the job file (DFOS createJob).",
                exec_cascade_cmd="Run a cascade (DFOS vultur_exec_cascade); resumes where a killed run stopped.",
                cascade_stat_cmd="Show the state of every AB of a cascade (waiting, running, succeeded, failed, "
                                 "blocked, incomplete).",
                stop_cascade_cmd="Stop a cascade gracefully: nothing new starts, running ABs finish.",
                requeue_cmd="Run ABs of DATE's cascade again: the cancelled ones (stop-cascade --now), or those named "
                            "with -a.",
                watch_queue_cmd="Live counts of waiting / running / done / failed ABs, refreshed every second "
                                "(Ctrl-C ends).",
                fetch_raw_cmd="Copy raw frames of DATE from the archive into $DFO_RAW_DIR/DATE (verified, atomic).",
                fetch_mcal_cmd="Copy certified masters back from the archive into $DFO_CAL_DIR (verified, atomic)."),
    **_commands("qc",
                process_qc_cmd="Measure an AB's products (DFOS processQC): QC1 parameters, QC procedures, plots, "
                               "scores.",
                score_cmd="Score every AB of DATE again (DFOS scoreQC), e.g. after a threshold change.",
                qc1_cmd="QC1 parameters from the workspace database: by date (-d) or one parameter over time.",
                trend_cmd="Plot a QC1 parameter over time (DFOS trendPlotter): points coloured by score, limits "
                          "dashed.",
                health_cmd="The health check: key trends with a traffic light each (a newer green overrides an "
                           "older red)."),
    **_commands("monitor",
                monitor_group="The dfoMonitor, AB monitor, health check and history as one web application."),
    **_commands("todo",
                check_job_cmd="Refuse a job for DATE whose mode moved past processing (exit 3), before anything runs.",
                end_job_cmd="Close a job block: MODE_QC (cal_QC, sci_QC) for work done, and the block marked executed.",
                reset_cmd="Reset MODE of DATE to run again: ABs, DONE tags, run states, job files and unmoved products "
                          "go."),
    **_commands("closing",
                certify_cmd="Accept or reject each processed AB of DATE (DFOS certifyProducts), red scores first.",
                move_cmd="Move certified products to $DFO_CAL_DIR/DATE (-m SCIENCE: $DFO_SCI_DIR/DATE) under their "
                         "certified names (DFOS moveProducts).",
                ingest_cmd="Ingest the certified products of DATE into the archive (DFOS ingestProducts); once per "
                           "date and mode.",
                finish_cmd="Close DATE (DFOS finishNight) once every mode with ABs is moved: raw FITS and leftovers "
                           "go, the date enters the history.",
                remove_cmd="Take a finished DATE off the monitor (appends 'removed').",
                cleanup_cmd="Replace ingested FITS in $DFO_CAL_DIR/DATE and $DFO_SCI_DIR/DATE by their headers "
                            "(DFOS cleanupProducts), checksums verified."),
    **_commands("archive",
                archive_group="The archive side: serve an archive directory over HTTP (the protocol dfos downloads "
                              "with).",
                download_cmd="Fetch the frames of DATE from the archive into $DFO_RAW_DIR/DATE (or only their "
                             "headers)."),
    **_commands("release",
                release_group="Replace a processing release: hide what it supersedes in the archive, raw2raw "
                              "meanwhile, undo."),
    **_commands("auto",
                auto_daily_cmd="One automatic run: new data -> headers, ABs, cascade, QC, trends (DFOS autoDaily).",
                cron_group="dfosCron: run dfos jobs from cron with logs, and the crontab lines that do it."),
    **_commands("compare", compare_cmd="Compare the results of two workspaces A and B (roots), read-only on both "
                                       "sides."),
    **_commands("migrate", migrate_cmd="Move an installation to a new machine (DFOS muc_migrate): set up NEW from OLD, "
                                       "then copy."),
    **_commands("sharing", sharing_group="No hidden sharing: check the database, directories and job files; "
                                          "relocate job files; claim the database."),
    **_commands("phoenix", phoenix_cmd="Reprocess archived nights unsupervised into science products (DFOS "
                                       "phoenix): one date (-d) or a month (-m)."),
    **_commands("panels",
                cal_checker_cmd="Which calibrations are due or missing, per calibration type and setup (DFOS "
                                "calChecker).",
                refresh_vcal_cmd="Check the VCAL memory against the ABs that make it (DFOS refreshVCAL).",
                transfer_cmd="Query the archive for the frames of DATE (any DPR.CATG) and whether each arrived here."),
    **_commands("project", project_group="OPSHUB projects: science dates whose calibrations come from any date, "
                                         "processed in one cascade."),
    **_commands("shadow", shadow_cmd="Process every date the reference installation processes, here, and compare "
                                     "each (shadow mode)."),
}



class _WarningFormatter(logging.Formatter):
    """``Warning: <message>``: one line, at most :data:`~dfos.errors.MAX_MESSAGE` characters (data quoted in a
    warning, e.g. a 5 MB DFO_STATUS line, is never echoed in full)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.capitalize()}: {_one_line(record.getMessage())}"


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    from dfos.cli.context import Cli  # not imported for 'dfos --help'

    ctx.obj = Cli.from_options(root, assignments)


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
