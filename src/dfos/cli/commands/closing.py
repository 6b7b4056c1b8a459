"""``dfos certify``, ``move``, ``ingest``, ``finish``, ``remove``, ``cleanup``: closing a date."""

from __future__ import annotations

import getpass
import sys
from datetime import date
from pathlib import Path

import click

from dfos.cli.context import Cli, pass_cli
from dfos.cli.options import PROCESSING_KEY, date_option, key_option
from dfos.keys import BatchId, Mode, ProcessingKey, Stage, mode_flag
from dfos.steps.certify import (
    ACCEPT,
    REJECT,
    CertRow,
    Decision,
    certification_rows,
    certify,
    check_state,
    read_decisions,
)
from dfos.steps.finish import cleanup, finish, remove
from dfos.steps.ingest import ingest
from dfos.steps.move import move
from dfos.workspace import Workspace

__all__ = ["certify_cmd", "cleanup_cmd", "finish_cmd", "ingest_cmd", "move_cmd", "remove_cmd"]

_MODE = click.option("-m", "--mode", type=click.Choice([m.value for m in Mode], case_sensitive=False),
                     default=Mode.CALIB.value, show_default=True, callback=lambda _c, _p, value: Mode.parse(value))


def _ask(rows: list[CertRow]) -> list[Decision]:
    """Ask for a decision on each AB without one (red first), in the terminal."""
    decisions = []
    for row in rows:
        click.echo(f"\n{row.ab}  {row.raw_type}  score {row.summary or '-'} ({row.verdict or 'no QC'})")
        answer = click.prompt("  [a]ccept, [r]eject, [s]kip, [q]uit", type=click.Choice(["a", "r", "s", "q"]),
                              default="s", show_choices=False)
        if answer == "q":
            break
        if answer == "s":
            continue
        comment = click.prompt("  comment", default="", show_default=False)
        decisions.append(Decision(row.ab, ACCEPT if answer == "a" else REJECT, comment))
    return decisions


@click.command("certify")
@_MODE
@key_option()
@click.option("-L", "light", is_flag=True, help="Light: provisional comments for TODAY, no flag.")
@click.option("--accept-green", is_flag=True, help="Accept every AB whose scores are all green.")
@click.option("--decisions", "batch", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A file of '<AB> accept|reject [comment]' lines.")
@click.option("--user", default=None, help="Who decides (default: the login name).")
@click.option("--interactive/--no-interactive", default=None,
              help="Ask AB by AB (default: when standard input is a terminal and no decisions are given).")
@pass_cli
def certify_cmd(cli: Cli, mode: Mode, day: date | ProcessingKey, light: bool, accept_green: bool, batch: Path | None,
                user: str | None, interactive: bool | None) -> None:
    """Accept or reject each processed AB of DATE (DFOS certifyProducts), red scores first.

    In a terminal without --accept-green/--decisions it asks AB by AB.  When every
    successful AB has a decision, cal_Certif (-m SCIENCE: sci_Certif) is appended.  A rejected AB's virtual
    products leave the calibration memory; ABs that used them are listed in
    $DFO_MON_DIR/reassociate_<MODE>_<DATE>.
    """
    workspace = cli.workspace()
    decisions = read_decisions(batch) if batch else []
    if interactive is None:
        interactive = not decisions and not accept_green and sys.stdin.isatty()
    if interactive:
        check_state(workspace, mode, day, light)
        rows = certification_rows(workspace, mode, day)
        decisions = _ask([r for r in rows if r.decision not in (ACCEPT, REJECT) or r.by == "auto"])
    result = certify(workspace, mode, day, decisions, accept_green, light, user or getpass.getuser())
    for row in certification_rows(workspace, mode, day):
        click.echo(f"{row.verdict or '-':<6} {row.summary or '-':>6}  {row.decision or 'undecided':<10} "
                   f"{row.by or '':<10} {row.ab}")
    for users, names in _by_batch(workspace, result.flagged).items():
        click.echo(f"{len(names)} AB(s) of {users.mode} {users.key} used a rejected AB's products and wait: "
                   f"re-associate them with 'dfos create-ab -m {users.mode} -d {users.key}' "
                   f"({', '.join(names)})", err=True)
    if result.undecided:
        click.echo(f"{len(result.undecided)} AB(s) still await a decision", err=True)
    elif result.certified_flag:
        click.echo(f"{mode} {day}: certified ({mode_flag(mode, Stage.CERTIF)})")


@click.command("move")
@_MODE
@key_option()
@pass_cli
def move_cmd(cli: Cli, mode: Mode, day: date | ProcessingKey) -> None:
    """Move certified products to $DFO_CAL_DIR/DATE (-m SCIENCE: $DFO_SCI_DIR/DATE) under their certified
    names (DFOS moveProducts).

    Copy, verify, then delete; CALIB masters enter the MCAL memory and the ABs still
    waiting for them name them; ABs and logs go to $DFO_LOG_DIR/DATE; cal_Updated
    (sci_Updated); the ingest call goes to JOBS_INGEST.  An interrupted move resumes;
    a finished one is not repeated.
    """
    result = move(cli.workspace(), mode, day)
    if result.already_done:
        click.echo(f"{mode} {day} is moved already: nothing to do")
        return
    for name in result.masters:
        click.echo(name)
    for name in result.users:
        click.echo(f"now names the certified masters: {name}")
    click.echo(f"{mode} {day}: {len(result.masters)} certified products, "
               f"{len(result.rejected)} rejected AB(s), {result.moved_files} files moved")


@click.command("ingest")
@_MODE
@click.option("-d", "--date", "day", type=PROCESSING_KEY,
              help="DFO date (YYYY-MM-DD), or a phoenix run ID (090.C-0456(A)): its products moved so far.")
@click.option("--static", is_flag=True, help="Archive the static calibrations of $DFO_CAL_DIR/GEN instead (no -d).")
@pass_cli
def ingest_cmd(cli: Cli, mode: Mode, day: date | ProcessingKey | None, static: bool) -> None:
    """Ingest the certified products of DATE into the archive (DFOS ingestProducts); once per date and mode."""
    from dfos.errors import UsageError
    from dfos.steps.ingest import ingest_static
    from dfos.steps.release import window

    workspace = cli.workspace()
    if static == (day is not None):
        raise UsageError("give either -d DATE or --static")
    if day is None:
        names = ingest_static(workspace)
        click.echo(f"{len(names)} static calibrations in the archive")
        return
    result = ingest(workspace, mode, day)
    click.echo(f"{len(result.ingested)} products ingested; list: {result.listing}")
    current = window(workspace)
    if current is not None and isinstance(day, date) and current.covers(day):
        click.echo(f"note: the raw2raw window {current.render()} is open; once the new release's masters are all "
                   "in, lift it with 'dfos release raw2raw --lift'")


@click.command("finish")
@date_option()
@pass_cli
def finish_cmd(cli: Cli, day: date) -> None:
    """Close DATE (DFOS finishNight) once every mode with ABs is moved: raw FITS and leftovers go, the date
    enters the history."""
    result = finish(cli.workspace(), day)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for name in result.job_files:
        click.echo(f"{day}: removed {name}")
    click.echo(f"{day}: finished ({result.raw_deleted} raw frames deleted, {result.raw_kept} kept)")


@click.command("remove")
@date_option()
@pass_cli
def remove_cmd(cli: Cli, day: date) -> None:
    """Take a finished DATE off the monitor (appends 'removed')."""
    remove(cli.workspace(), day)
    click.echo(f"{day}: removed from the monitor")


@click.command("cleanup")
@date_option(required=False, help="The finished DFO date whose ingested FITS become headers.")
@click.option("--force", is_flag=True, help="Also for a date that is not finished (-d).")
@click.option("-E", "everything", is_flag=True,
              help="Find every FITS under the workspace that should no longer be on disk (ingested, raw frames of "
                   "finished dates, stray); list them.")
@click.option("--apply", is_flag=True, help="With -E: remove those whose bytes the archive holds (checksums equal).")
@click.option("--json", "as_json", is_flag=True, help="With -E: print the list (and what --apply did) as JSON.")
@pass_cli
def cleanup_cmd(cli: Cli, day: date | None, force: bool, everything: bool, apply: bool, as_json: bool) -> None:
    """Replace ingested FITS in $DFO_CAL_DIR/DATE and $DFO_SCI_DIR/DATE by their headers (DFOS cleanupProducts),
    checksums verified.

    'dfos cleanup -E' (cleanupProducts -E) lists every FITS file under the workspace that should no
    longer be on disk: certified products of finished dates the archive holds, raw frames of finished
    dates, and stray FITS (in logs, lists, the monitor, job, config or header directories ...), with
    path, size and why.  With --apply it removes each one only after the archive's checksum of the
    same file matched the local file (a product is replaced by its .hdr).  The archive, the static
    calibrations ($DFO_CAL_DIR/GEN), the calibration memory and working products are never touched.
    """
    if everything:
        if day is not None or force:
            raise click.UsageError("-E looks at the whole workspace: give it without -d and --force")
        _cleanup_everything(cli.workspace(), apply, as_json)
        return
    if day is None:
        raise click.UsageError("give -d DATE (one finished date) or -E (the whole workspace)")
    if apply or as_json:
        raise click.UsageError("--apply and --json go with -E")
    result = cleanup(cli.workspace(), day, force)
    click.echo(f"{day}: {len(result.replaced)} FITS replaced by headers, {len(result.kept)} kept")
    for name in result.kept:
        click.echo(f"kept (not ingested or checksum differs): {name}", err=True)


def _cleanup_everything(workspace: Workspace, apply: bool, as_json: bool) -> None:
    """``cleanup -E``: the list, and with ``apply`` the removal of what the archive holds."""
    import json

    from dfos.cli.progress import progress_bar
    from dfos.steps.cleanup_e import find_candidates, remove_candidates

    found = find_candidates(workspace)
    removal = None
    if apply:
        with progress_bar("checksums") as progress:
            removal = remove_candidates(workspace, found, progress)
    if as_json:
        kept = {str(c.path): why for c, why in removal.kept} if removal else {}
        removed = {str(c.path) for c in removal.removed} if removal else set()
        click.echo(json.dumps([{"path": str(c.path), "size": c.size, "kind": c.kind, "why": c.why,
                                "archived": c.archived, "removed": str(c.path) in removed,
                                "kept": kept.get(str(c.path))} for c in found], indent=1))
        return
    for c in found:
        click.echo(f"{c.size:>12}  {c.path}  {c.why}{'' if c.archived else ' (not in the archive)'}")
    total = sum(c.size for c in found)
    click.echo(f"{len(found)} FITS file(s), {total / 1e6:.1f} MB", err=True)
    if removal is None:
        if found:
            click.echo("nothing removed: 'dfos cleanup -E --apply' removes those the archive holds with the same "
                       "checksum", err=True)
        return
    for c, why in removal.kept:
        click.echo(f"kept {c.path}: {why}", err=True)
    click.echo(f"removed {len(removal.removed)} ({sum(c.size for c in removal.removed) / 1e6:.1f} MB), "
               f"kept {len(removal.kept)}", err=True)


def _by_batch(workspace: Workspace, names: tuple[str, ...]) -> dict[BatchId, list[str]]:
    """The ABs grouped by the batch their files name (an unreadable one under its name alone)."""
    from dfos.ab.store import read_ab
    from dfos.errors import DfosError

    found: dict[BatchId, list[str]] = {}
    for name in names:
        try:
            batch = BatchId.parse(read_ab(workspace.ab_dir, name).batch_id)
        except DfosError:
            continue
        found.setdefault(batch, []).append(name)
    return found
