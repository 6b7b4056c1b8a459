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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from dfos import clock
from dfos.config.settings import Flavour
from dfos.dates import format_timestamp
from dfos.errors import DfosError, StateError, UsageError
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.keys import KeyLike, Mode, Stage, mode_flag
from dfos.status.flags import StatusFlag
from dfos.status.machine import flags_by_key
from dfos.steps.certify import ACCEPT, CertRow, Decision
from dfos.workspace import Workspace

if TYPE_CHECKING:
    from dfos.cascade.events import CascadeProgress

__all__ = ["PhoenixResult", "auto_decisions", "carry_on", "closed", "conclude", "deep_create", "deep_process", "intake",
           "jobs_file", "month_dates", "phoenix_date", "phoenix_dates", "queue", "queue_run"]

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
    intake(workspace, day, note)
    for mode in (Mode.CALIB, Mode.SCIENCE):
        _mode(workspace, day, mode, result, note)
    _finish(workspace, day, result, keep, note)
    _record(workspace, day, result)
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


def phoenix_dates(workspace: Workspace, days: Sequence[date], name: str, keep: bool = False,
                  say: Callable[[str], None] | None = None,
                  progress: Callable[[str, CascadeProgress], None] | None = None) -> list[PhoenixResult]:
    """``phoenix -d DATE`` (``name``: the date) and ``phoenix -m YYYY-MM`` (the month's dates): date after date
    (:func:`phoenix_date`), or with COMPLETE_MODE all of them together (:mod:`dfos.steps.complete_mode`)."""
    _phoenix_only(workspace)
    queue(workspace, days)  # the campaign's ToDo list, before anything runs
    if not workspace.settings.COMPLETE_MODE:
        return [phoenix_date(workspace, day, keep=keep, say=say) for day in days]
    from dfos.steps.complete_mode import CompleteSpan, phoenix_complete

    note = say or (lambda _: None)
    for day in days:
        _remove_partials(workspace, day)
    waiting = phoenix_complete(workspace, CompleteSpan(name, tuple(days)), note, progress)
    for key, modes in waiting.items():
        if date.fromisoformat(key) not in days:  # a neighbour's calibrations: the science they serve waits too
            note(f"{key}: " + "; ".join(f"{m}: {len(n)} AB(s) wait for a person: 'dfos certify -m {m} -d {key}'"
                                        for m, n in modes.items()))
    results = []
    for day in days:
        result = PhoenixResult(day.isoformat(), waiting=dict(waiting.get(day.isoformat(), {})))
        flags = flags_by_key(workspace.status_log.read()).get(day.isoformat(), [])
        if not result.waiting and mode_flag(Mode.SCIENCE, Stage.QC) in flags \
                and not carry_on(workspace, day, Mode.SCIENCE, note):
            conclude(workspace, day, Mode.SCIENCE, result, note)
        _finish(workspace, day, result, keep, note)
        _record(workspace, day, result)
        results.append(result)
    return results


def _record(workspace: Workspace, day: date, result: PhoenixResult) -> None:
    """The date's JOBS_PHOENIX line gets when and how it ended."""
    said = f"{format_timestamp(clock.now(workspace.settings))} {result.outcome}"
    queue(workspace, [day], lambda _: said)


def _finish(workspace: Workspace, day: date, result: PhoenixResult, keep: bool, note: Callable[[str], None]) -> None:
    """finish a date whose modes are moved and that nothing waits on (unless ``keep``)."""
    from dfos.steps.finish import finish

    flags = flags_by_key(workspace.status_log.read()).get(day.isoformat(), [])
    result.finished = StatusFlag.FINISHED.value in flags
    moved = [mode for mode in Mode if mode_flag(mode, Stage.UPDATED) in flags]
    if result.waiting or not moved or keep or result.finished:
        return
    try:
        finish(workspace, day)
    except DfosError as exc:
        note(f"{day}: not finished: {exc.message}")
        return
    result.finished = True
    note(f"{day}: finished (raw frames and working products removed; -n keeps them)")


def intake(workspace: Workspace, day: date, note: Callable[[str], None]) -> None:
    """The headers of the archive's frames of a date (``fits_Requested``)."""
    from dfos.steps.headers import extract_headers

    intake = extract_headers(workspace, day)
    _checksums(workspace, day)
    note(f"{day}: {len(intake.frames)} frames in the archive ({intake.written} new headers)")


def _checksums(workspace: Workspace, day: date) -> None:
    """The archive's checksums of the date's raw frames, beside their headers: an AB's content key includes them
    (:mod:`dfos.steps.content_keys`), so a frame the archive replaced changes the key of every AB that reads it.
    Asked once per date (a date taken in again keeps its record), of the archive nights its frames lie in."""
    from dfos.dates import dfo_date
    from dfos.naming import RawName
    from dfos.steps.content_keys import recorded_names, write_checksums
    from dfos.steps.fetch import archive_client

    names = {f"{p.stem}.fits" for p in (workspace.hdr_dir / day.isoformat()).glob("*.hdr")}
    if not names or names <= recorded_names(workspace, day.isoformat()):
        return
    nights = {dfo_date(RawName.parse(name).moment) for name in names}  # the archive's plain 12:00 UT nights
    client = archive_client(workspace)
    found = {entry.name: entry.sha256 for night in sorted(nights) for entry in client.list_files(night, checksums=True)
             if entry.sha256 and entry.name in names}
    write_checksums(workspace, day.isoformat(), found)


def _mode(workspace: Workspace, day: date, mode: Mode, result: PhoenixResult, note: Callable[[str], None]) -> None:
    """Process, certify automatically, move and ingest one mode of the date (each step only once)."""
    from dfos.steps.run_mode import run_mode

    if carry_on(workspace, day, mode, note):
        return
    flags = flags_by_key(workspace.status_log.read()).get(day.isoformat(), [])
    if mode_flag(mode, Stage.QC) not in flags and not run_mode(workspace, day, mode, note, reassociate=False):
        return
    conclude(workspace, day, mode, result, note)


def conclude(workspace: Workspace, day: date, mode: Mode, result: PhoenixResult, note: Callable[[str], None]) -> None:
    """A processed mode of a date (``<mode>_QC``): certification by PHOENIX_CERTIFY, then move and ingest; the ABs
    that wait for a person go to ``result.waiting`` (nothing moves then)."""
    from dfos.steps.certify import certification_rows, certify

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


def carry_on(workspace: Workspace, day: date, mode: Mode, note: Callable[[str], None]) -> bool:
    """Whether a mode of the date is moved (``<mode>_Updated``); one killed while it moved or ingested is carried
    on first (what is left of both)."""
    if mode_flag(mode, Stage.UPDATED) not in flags_by_key(workspace.status_log.read()).get(day.isoformat(), []):
        return False
    if closed(workspace, mode, day):
        from dfos.steps.ingest import ingest_line_done

        ingest_line_done(workspace, mode, day.isoformat())  # a kill between the ingest list and its JOBS_INGEST line
        note(f"{day}: {mode} moved already")
    else:
        _move_and_ingest(workspace, day, mode, note)
    return True


def closed(workspace: Workspace, mode: Mode, day: date) -> bool:
    """The mode's move finished (its plan is gone) and its products are ingested (the ingest list is written)."""
    from dfos.steps.ingest import ingest_list
    from dfos.steps.move import plan_file

    return not plan_file(workspace, mode, day.isoformat()).exists() and ingest_list(workspace, mode, day).is_file()


def _move_and_ingest(workspace: Workspace, day: date, mode: Mode, note: Callable[[str], None]) -> None:
    """move (an interrupted one is carried on by its plan), then ingest unless the ingest list says it is done
    (an interrupted ingest goes on: what is archived with the same checksum counts as done)."""
    from dfos.steps.ingest import ingest, ingest_line_done, ingest_list
    from dfos.steps.move import move

    moved = move(workspace, mode, day)
    if not moved.already_done:
        note(f"{day}: {mode}: {len(moved.masters)} product(s) moved")
    if ingest_list(workspace, mode, day).is_file():
        ingest_line_done(workspace, mode, day.isoformat())  # killed between the list and its JOBS_INGEST line
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
    if sum(counts.values()):  # no flag for a cascade that had nothing to run
        workspace.status_log.append(mode_flag(Mode.SCIENCE, Stage.QC), key.text, clock.now(workspace.settings))
    queue_run(workspace, key.text, "-P" + (f" -a {ab}" if ab else ""), ", ".join(f"{n} {s}" for s, n in counts.items()
                                                                                  if n))
    return counts


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
