"""``dfos migrate``: move an installation to a new machine (ESO's muc_migrate); docs/migration.md."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from dfos.cli.context import Cli, pass_cli
from dfos.dates import parse_date
from dfos.errors import UsageError

__all__ = ["migrate_cmd"]


#: -I without --since or --months: this month and the previous one (the 2013 plan's starter set).
DEFAULT_MONTHS = 1


def _since(since: str | None, months: int | None) -> date:
    if since is not None and months is not None:
        raise UsageError("give --since DATE or --months N, not both")
    if since is not None:
        return parse_date(since)
    if months is None:
        months = DEFAULT_MONTHS
    from dfos.clock import system_now

    today = system_now().date()
    month = today.month - months
    year = today.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, 1)


def _dirs(values: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for value in values:
        key, sep, path = value.partition("=")
        if not sep or not key or not path:
            raise UsageError(f"--dir {value!r}: write it as KEY=PATH, e.g. --dir DFO_LOG_DIR=/data2/logs")
        found[key.strip()] = path.strip()
    return found


@click.command("migrate", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("words", nargs=-1, metavar="setup OLD NEW | -I|-A OLD NEW")
@click.option("-I", "incremental", is_flag=True, help="Copy the recent set (--since DATE or --months N; default: this "
              "month and the previous one); repeat it: "
              "only what changed is copied.")
@click.option("-A", "everything", is_flag=True, help="Copy everything (once; a run again copies only what changed).")
@click.option("--since", metavar="DATE", help="-I: dated directories from DATE (YYYY-MM-DD) on.")
@click.option("--months", type=click.IntRange(0, 1200), metavar="N",
              help="-I: dated directories from the first day of the month N months back on.")
@click.option("--instrument", metavar="NAME", help="setup from a DFOS tree: the instrument (else DFO_INSTRUMENT of "
              "its .dfosrc).")
@click.option("--dir", "dirs", multiple=True, metavar="KEY=PATH",
              help="setup: where NEW keeps a directory that OLD keeps outside its root (repeatable).")
@click.option("--db-url", metavar="URL", help="setup: NEW's database (default: its own SQLite file).")
@click.option("--share-db", is_flag=True, help="setup: let NEW use OLD's DB_URL (test runs then write into OLD's "
              "QC1 values).")
@click.option("--old-db-url", metavar="URL", help="-I/-A: OLD's database when OLD's dfos.toml does not name it "
              "(e.g. set by DFOS_DB_URL there).")
@pass_cli
def migrate_cmd(cli: Cli, words: tuple[str, ...], incremental: bool, everything: bool, since: str | None,
                months: int | None, instrument: str | None, dirs: tuple[str, ...], db_url: str | None,
                share_db: bool, old_db_url: str | None) -> None:
    """Move an installation to a new machine (DFOS muc_migrate): set up NEW from OLD, then copy.

    \b
    dfos migrate setup OLD NEW     NEW: OLD's instrument, configuration, directory
                                   names and rules, and a database of its own
    dfos migrate -I OLD NEW [--since 2013-01-01 | --months N]
                                   the recent set: dated directories from DATE
                                   (default: this month and the previous one),
                                   and DFO_STATUS, AB lists, ABs, job files, config
    dfos migrate -A OLD NEW        everything

    FITS files are not copied (they stay in the archive), except the static
    calibrations ($DFO_CAL_DIR/GEN).  Every copy is verified (SHA-256), written
    atomically and recorded in NEW/.migrate/manifest: a run again copies only
    what changed, and a killed run resumes.  A file NEW changed itself is never
    overwritten (a conflict, reported).  OLD's root in copied text files (job
    files) becomes NEW's.  OLD may be a DFOS installation tree (.dfosrc,
    monitor/DFO_STATUS, AB/*.ab, headers, qc1/*.csv): its ABs' absolute paths
    become $DFO_* references; paths that cannot be mapped are reported.
    Never backwards: NEW must have been set up from OLD.
    The report: NEW/.migrate/last_report.
    """
    if words[:1] == ("setup",):
        if len(words) != 3 or incremental or everything:
            raise UsageError("write it as: dfos migrate setup OLD NEW")
        from dfos.steps.migrate.setup import setup

        result = setup(Path(words[1]), Path(words[2]), instrument, _dirs(dirs), db_url, share_db)
        click.echo(f"set up {result.new_root} from {words[1]} ({result.kind})")
        for line in result.lines:
            click.echo(line)
        return
    if incremental == everything or len(words) != 2:
        raise UsageError("write it as: dfos migrate setup OLD NEW, dfos migrate -I OLD NEW --since DATE, or "
                         "dfos migrate -A OLD NEW")
    if everything and (since or months is not None):
        raise UsageError("-A copies everything: --since and --months belong to -I")
    from dfos.cli.progress import progress_bar
    from dfos.steps.migrate.run import migrate

    with progress_bar("migrate") as bar:
        report = migrate(Path(words[0]), Path(words[1]), everything, None if everything else _since(since, months),
                         bar, old_db_url,
                         cli.env)
    click.echo(report.render(limit=20), nl=False)
    if report.files.failed:
        raise click.exceptions.Exit(1)
