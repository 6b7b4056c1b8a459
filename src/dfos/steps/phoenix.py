"""phoenix: unsupervised reprocessing of archived nights into science products (DFOS phoenix, IDP mode).

``dfos phoenix -d DATE`` takes one date through the whole chain without a person: the headers of the
archive's frames of the date, then for CALIB and after it for SCIENCE: createAB, createJob, the raw
frames the ABs need, the cascade, QC; automatic certification (:func:`auto_decisions`: every
successful AB without a red score passes, as DFOS's phoenix does; red ones wait for a person;
``PHOENIX_CERTIFY = "green"`` lets only all-green ABs pass); move and ingest.  When both modes are moved the
date is finished (raw frames and working products deleted, once verified copies exist) unless ``-n``
keeps the working files.  ``dfos phoenix -m YYYY-MM`` does the same for every date of the month that
the archive holds, in date order.

Every date of a campaign is a line of ``$DFO_JOB_DIR/JOBS_PHOENIX`` (:func:`queue`): the command that
processes it, and once it ran, a comment with when and how it ended, so the file is the campaign's
ToDo list and its record (running a line again is safe: finished work is not repeated).  The flags go
to DFO_STATUS as for any date.  A date whose ABs wait for a person stops at certification and says
so; ``dfos certify`` and ``dfos phoenix -d DATE`` again take it on.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from dfos import clock
from dfos.config.settings import Flavour
from dfos.dates import format_timestamp
from dfos.errors import StateError, UsageError
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.keys import KeyLike, Mode, Stage, mode_flag
from dfos.status.flags import StatusFlag
from dfos.status.machine import flags_by_key
from dfos.steps.certify import ACCEPT, CertRow, Decision
from dfos.workspace import Workspace

__all__ = ["PhoenixResult", "auto_decisions", "deep_create", "deep_move", "deep_process", "jobs_file", "month_dates",
           "phoenix_date", "queue", "queue_run"]

#: The campaign's job file in $DFO_JOB_DIR.
JOBS_PHOENIX = "JOBS_PHOENIX"


@dataclass
class PhoenixResult:
    """What one ``phoenix -d`` did."""

    date: str
    messages: list[str] = field(default_factory=list)
    waiting: dict[str, list[str]] = field(default_factory=dict)
    """Mode -> ABs that wait for a person's decision (red scores, or no automatic certification)."""
    finished: bool = False

    @property
    def outcome(self) -> str:
        """One line for JOBS_PHOENIX."""
        if self.waiting:
            return "waits for certification: " + "; ".join(f"{m} {len(abs_)} AB(s)" for m, abs_ in self.waiting.items())
        return "finished" if self.finished else "done (kept: -n)"


def jobs_file(workspace: Workspace) -> str:
    """``$DFO_JOB_DIR/JOBS_PHOENIX``."""
    return str(workspace.job_dir / JOBS_PHOENIX)


def _line(day: date) -> str:
    return f'"$DFOS" phoenix -d {day.isoformat()}'


def queue(workspace: Workspace, days: Iterable[date], outcome: Callable[[date], str | None] = lambda _: None) -> None:
    """Make sure JOBS_PHOENIX has a line for each date (in date order, once each), and write ``outcome(day)``
    (when not None) as that line's comment; other lines stay as they are."""
    def edit(lines: list[str]) -> list[str]:
        for day in sorted(set(days)):
            head = _line(day)
            found = [i for i, line in enumerate(lines) if line.split("  #", 1)[0] == head]
            said = outcome(day)
            if not found:
                lines.append(head + (f"  # {said}" if said else ""))
            elif said:
                lines[found[0]] = f"{head}  # {said}"
        return lines

    _edit_jobs(workspace, edit)


def _edit_jobs(workspace: Workspace, edit: Callable[[list[str]], list[str]]) -> None:
    """Rewrite JOBS_PHOENIX's lines with ``edit``, under its lock (a new file starts with the job header)."""
    from dfos.steps.create_job import job_header

    path = workspace.job_dir / JOBS_PHOENIX
    with exclusive_lock(path.with_name(f".{JOBS_PHOENIX}.lock")):
        text = path.read_text(encoding="utf-8") if path.is_file() else job_header(workspace)
        write_text_atomic(path, "\n".join(edit(text.rstrip("\n").split("\n"))) + "\n", mode=0o755)


def month_dates(workspace: Workspace, month: str) -> list[date]:
    """The dates of ``YYYY-MM`` that the archive holds frames of, oldest first."""
    from dfos.steps.fetch import archive_client

    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError:
        raise UsageError(f"month {month!r} is not YYYY-MM") from None
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    client = archive_client(workspace)
    return [day for day in client.list_dates() if first <= day <= last]


def auto_decisions(rows: Iterable[CertRow], policy: str = "no-red") -> tuple[list[Decision], list[str]]:
    """(decisions, waiting) for the successful ABs of a batch (:func:`~dfos.steps.certify.certification_rows`)
    by ``PHOENIX_CERTIFY``: ``no-red`` accepts every undecided one without a red score, ``green`` only those
    whose scores are all green (unscored ones wait too); the others wait for a person."""
    passing = {"no-red": ("green", "grey", ""), "green": ("green",)}[policy]
    decisions: list[Decision] = []
    waiting: list[str] = []
    for row in rows:
        if row.decision:
            continue
        if row.verdict in passing:
            decisions.append(Decision(row.ab, ACCEPT, f"phoenix ({policy}): successful, no red score"))
        else:
            waiting.append(row.ab)
    return decisions, waiting


def phoenix_date(workspace: Workspace, day: date, keep: bool = False,
                 say: Callable[[str], None] | None = None) -> PhoenixResult:
    """``dfos phoenix -d DATE``; see the module docstring."""
    _phoenix_only(workspace)
    result = PhoenixResult(day.isoformat())

    def note(message: str) -> None:
        result.messages.append(message)
        if say:
            say(message)

    _remove_partials(workspace, day)
    queue(workspace, [day])
    _intake(workspace, day, note)
    for mode in (Mode.CALIB, Mode.SCIENCE):
        _mode(workspace, day, mode, result, note)
    flags = flags_by_key(workspace.status_log.read()).get(day.isoformat(), [])
    moved = [mode for mode in Mode if mode_flag(mode, Stage.UPDATED) in flags]
    result.finished = StatusFlag.FINISHED.value in flags
    if not result.waiting and moved and not keep and not result.finished:
        from dfos.steps.finish import finish

        finish(workspace, day)
        result.finished = True
        note(f"{day}: finished (raw frames and working products removed; -n keeps them)")
    queue(workspace, [day], lambda _: f"{format_timestamp(clock.now(workspace.settings))} {result.outcome}")
    return result


def _remove_partials(workspace: Workspace, day: date) -> None:
    """What a killed phoenix of the date left half-written (temporaries of its dead writers) in the directories
    it writes: the date's, the archive's of the date, the job, list, monitor and AB directories."""
    from dfos.fsutil import remove_dead_partials

    key = day.isoformat()
    archive = workspace.archive_dir
    dated = [workspace.path(name) / key for name in ("DFO_RAW_DIR", "DFO_HDR_DIR", "DFO_CAL_DIR", "DFO_SCI_DIR",
                                                     "DFO_LOG_DIR", "DFO_PLT_DIR")]
    dated += [archive / key, archive / "calib" / key, archive / "science" / key, workspace.mcal_dir / key,
              workspace.vcal_dir / key, workspace.log_dir / key / "rejected",
              *workspace.path("DFS_PRODUCT").glob(f"*/{key}")]
    for directory in [*dated, workspace.job_dir, workspace.lst_dir, workspace.mon_dir, workspace.ab_dir]:
        remove_dead_partials(directory)


def _intake(workspace: Workspace, day: date, note: Callable[[str], None]) -> None:
    from dfos.steps.headers import extract_headers

    intake = extract_headers(workspace, day)
    note(f"{day}: {len(intake.frames)} frames in the archive ({intake.written} new headers)")


def _mode(workspace: Workspace, day: date, mode: Mode, result: PhoenixResult, note: Callable[[str], None]) -> None:
    """Process, certify automatically, move and ingest one mode of the date (each step only once)."""
    from dfos.steps.certify import certification_rows, certify
    from dfos.steps.run_mode import run_mode

    flags = flags_by_key(workspace.status_log.read()).get(day.isoformat(), [])
    if mode_flag(mode, Stage.UPDATED) in flags:
        if _closed(workspace, mode, day):
            note(f"{day}: {mode} moved already")
        else:  # killed while it moved or ingested: what is left of both
            _move_and_ingest(workspace, day, mode, note)
        return
    if mode_flag(mode, Stage.QC) not in flags and not run_mode(workspace, day, mode, note, reassociate=False):
        return
    rows = certification_rows(workspace, mode, day)
    decisions, waiting = auto_decisions(rows, workspace.settings.PHOENIX_CERTIFY)
    if decisions or not waiting:  # (green ABs are certified by processQC already: this appends the flag)
        certify(workspace, mode, day, decisions, user="phoenix")
    if waiting:
        result.waiting[mode.value] = waiting
        note(f"{day}: {mode}: {len(waiting)} AB(s) wait for a person: 'dfos certify -m {mode} -d {day}', "
             f"then 'dfos phoenix -d {day}' again")
        return
    _move_and_ingest(workspace, day, mode, note)


def _closed(workspace: Workspace, mode: Mode, day: date) -> bool:
    """The mode's move finished (its plan is gone) and its products are ingested (the ingest list is written)."""
    from dfos.steps.ingest import ingest_list
    from dfos.steps.move import plan_file

    return not plan_file(workspace, mode, day.isoformat()).exists() and ingest_list(workspace, mode, day).is_file()


def _move_and_ingest(workspace: Workspace, day: date, mode: Mode, note: Callable[[str], None]) -> None:
    """move (an interrupted one is carried on by its plan), then ingest unless the ingest list says it is done
    (an interrupted ingest goes on: what is archived with the same checksum counts as done)."""
    from dfos.steps.ingest import ingest, ingest_list
    from dfos.steps.move import move

    moved = move(workspace, mode, day)
    if not moved.already_done:
        note(f"{day}: {mode}: {len(moved.masters)} product(s) moved")
    if ingest_list(workspace, mode, day).is_file():
        return
    ingested = ingest(workspace, mode, day)
    note(f"{day}: {mode}: {len(ingested.ingested)} product(s) ingested ({ingested.listing.name})")


# -- DEEP mode: a run's targets, each combined across its nights -------------------------------------------------

def deep_create(workspace: Workspace, run: KeyLike) -> list[str]:
    """``phoenix -r RUN -C``: the run's deep ABs, one per target (:func:`dfos.steps.create_ab.create_run_abs`)."""
    from dfos.steps.create_ab import create_run_abs

    _phoenix_only(workspace)
    result = create_run_abs(workspace, run)
    queue_run(workspace, result.key, "-C", f"{len(result.abs)} deep AB(s)")
    return [ab.name for ab in result.abs]


def deep_process(workspace: Workspace, run: KeyLike, ab: str | None = None,
                 note: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """``phoenix -r RUN -P [-a AB]``: the run's cascade, or one target's AB and what depends on it
    (TARGET_SELECT), then QC and ``sci_QC``; the cascade's counts."""
    from dfos.keys import BatchId, ProcessingKey
    from dfos.steps.cascade import exec_cascade
    from dfos.steps.create_job import create_job

    _phoenix_only(workspace)
    key = ProcessingKey.of(run)
    files = create_job(workspace, key, Mode.SCIENCE, subcascade=ab)
    dag = BatchId.of(Mode.SCIENCE, key, sub=ab is not None).render()
    counts = exec_cascade(workspace, dag, files.exec_ab).counts
    note(f"{key}: {dag}: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n))
    if files.exec_qc is not None:
        exec_cascade(workspace, BatchId.of(Mode.SCIENCE, key, qc=True).render(), files.exec_qc)
    workspace.status_log.append(mode_flag(Mode.SCIENCE, Stage.QC), key.text, clock.now(workspace.settings))
    queue_run(workspace, key.text, "-P" + (f" -a {ab}" if ab else ""), ", ".join(f"{n} {s}" for s, n in counts.items()
                                                                                  if n))
    return counts


def deep_move(workspace: Workspace, run: KeyLike, note: Callable[[str], None] = lambda _: None) -> list[str]:
    """``phoenix -r RUN -M``: certify the run's deep ABs by the policy, move their products to
    ``$DFO_SCI_DIR/<RUN_ID>`` and ingest them; the ABs that wait for a person (nothing moves then)."""
    from dfos.keys import ProcessingKey
    from dfos.steps.certify import certification_rows, certify
    from dfos.steps.ingest import ingest
    from dfos.steps.move import move

    _phoenix_only(workspace)
    key = ProcessingKey.of(run)
    if mode_flag(Mode.SCIENCE, Stage.UPDATED) in flags_by_key(workspace.status_log.read()).get(key.text, []):
        note(f"{key}: moved already ({workspace.sci_dir / key.text})")
        return []
    rows = certification_rows(workspace, Mode.SCIENCE, key)
    decisions, waiting = auto_decisions(rows, workspace.settings.PHOENIX_CERTIFY)
    if decisions or not waiting:
        certify(workspace, Mode.SCIENCE, key, decisions, user="phoenix")
    if waiting:
        note(f"{key}: {len(waiting)} deep AB(s) wait for a person: 'dfos certify -m SCIENCE -d {key}'")
        queue_run(workspace, key.text, "-M", f"waits for certification: {len(waiting)} AB(s)")
        return waiting
    moved = move(workspace, Mode.SCIENCE, key)
    ingested = ingest(workspace, Mode.SCIENCE, key)
    note(f"{key}: {len(moved.masters)} deep product(s) in {workspace.sci_dir / key.text}, "
         f"{len(ingested.ingested)} ingested")
    queue_run(workspace, key.text, "-M", f"{len(moved.masters)} deep product(s) moved and ingested")
    return []


def queue_run(workspace: Workspace, run: str, option: str, outcome: str) -> None:
    """Record a DEEP step in JOBS_PHOENIX: ``"$DFOS" phoenix -r RUN <option>  # <when> <outcome>`` (once per
    run and option: a later run of the same step replaces its comment)."""
    head = f'"$DFOS" phoenix -r {run} {option}'
    stamp = format_timestamp(clock.now(workspace.settings))
    _edit_jobs(workspace, lambda lines: [*(line for line in lines if line.split("  #", 1)[0] != head),
                                         f"{head}  # {stamp} {outcome}"])


def _phoenix_only(workspace: Workspace) -> None:
    if workspace.settings.FLAVOUR is not Flavour.PHOENIX:
        settings = workspace.settings
        raise StateError(f"phoenix runs in a phoenix workspace; this one is {settings.FLAVOUR.value}: "
                         f"make one with 'dfos init DIR --flavour phoenix --instrument {settings.INSTRUMENT}'")
