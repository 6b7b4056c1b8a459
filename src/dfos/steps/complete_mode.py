"""phoenix COMPLETE_MODE: the calibrations a campaign's science needs, found by association around each science
date, each built once, then the science (DFOS phoenix ``COMPLETE_MODE=YES``).

For a set of science dates (a month: ``phoenix -m``, or one date: ``phoenix -d``):

1. the window: every date the archive holds within ``COMPLETE_DAYS`` of a science date; the headers of each
   are taken in;
2. createAB CALIB for each window date whose CALIB is not moved yet (date order: a CALIB AB may take a virtual
   master of an earlier date), which writes their virtual products into the calibration memory;
3. createAB SCIENCE for each science date, its calibration memory reaching ``COMPLETE_DAYS`` after the date too:
   a science frame takes the closest calibration in time, earlier, later or the same date;
4. the CALIB batches to build: those of the science dates, and of every date whose ABs make a calibration the
   science takes (and the calibrations those need, across dates: :func:`producers`);
5. one cascade over all of them (``PHOENIX_CALIB_<span>``: the cores stay busy across dates), its QC, then per
   date automatic certification, move (the masters to ``$DFO_CAL_DIR/NEW/<DATE>``) and ingest;
6. createAB SCIENCE again (now with the certified masters), one cascade over every science date's ABs
   (``PHOENIX_SCIENCE_<span>``), QC, then per date certification, move, ingest and finish.

A batch moved already is never built again: ``-d`` of a date inside a processed month finds its calibrations
and science moved and runs nothing, and a month after ``-d`` takes that date's work as done.  Every AB also
carries a content key (:mod:`dfos.ab.content`): an AB made again with the same key (a date re-associated,
reset, or asked for by ``-d`` and by ``-m``) reuses the products of the run that made them
(:mod:`dfos.steps.reuse`), so no recipe call is made twice.

A killed campaign is started again the same way: a phase whose batches are queued and not QC'd is resumed
first (its finished ABs are tagged DONE and not run again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from dfos import clock
from dfos.ab.lists import read_ab_list
from dfos.ab.model import AB, Completeness
from dfos.ab.store import ab_reader
from dfos.errors import DfosError
from dfos.keys import BatchId, Mode, ProcessingKey, Stage, mode_flag, parse_mode_flag
from dfos.status.machine import flags_by_key
from dfos.workspace import Workspace

if TYPE_CHECKING:
    from dfos.cascade.events import CascadeProgress

__all__ = ["CompleteSpan", "phoenix_complete", "producers", "window"]

Note = Callable[[str], None]
Progress = Callable[[str, "CascadeProgress"], None]
"""Told the state of a cascade (its id, its progress) after each turn: a progress bar."""


@dataclass(frozen=True)
class CompleteSpan:
    """What one COMPLETE_MODE request covers: its science dates and a name for its cascades."""

    name: str
    """``2013-02`` (a month) or ``2013-02-12`` (a date): the cascades are ``PHOENIX_<MODE>_<name>``."""
    days: tuple[date, ...]

    def dag(self, mode: Mode) -> str:
        return f"PHOENIX_{mode.value}_{self.name}"


def window(days: Iterable[date], available: Iterable[date], reach: int) -> list[date]:
    """The dates of ``available`` within ``reach`` days of one of ``days``, oldest first (pure)."""
    wanted = sorted(set(days))
    return sorted(d for d in set(available) if any(abs((d - s).days) <= reach for s in wanted))


def producers(abs_: Iterable[AB], read: Callable[[str], AB | None]) -> set[str]:
    """The ABs that make the virtual inputs of ``abs_``, and those that make theirs, across batches (pure over
    ``read``: an AB by name, None when it is gone)."""
    found: set[str] = set()
    todo = [cal.producer for ab in abs_ for cal in ab.mcalib if cal.virtual and cal.producer]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        parent = read(name)
        if parent is not None:
            todo += [cal.producer for cal in parent.mcalib if cal.virtual and cal.producer]
    return found


def _flags(workspace: Workspace) -> Mapping[str, list[str]]:
    return flags_by_key(workspace.status_log.read())


def _moved(flags: Mapping[str, list[str]], mode: Mode, day: date) -> bool:
    return mode_flag(mode, Stage.UPDATED) in flags.get(day.isoformat(), [])


Waiting = dict[str, dict[str, list[str]]]
"""Key (a date) -> mode -> the ABs that wait for a person (or for calibrations a person has to certify)."""


def phoenix_complete(workspace: Workspace, span: CompleteSpan, note: Note, progress: Progress | None = None) -> Waiting:
    """Steps 1 to 6 of the module docstring up to the SCIENCE QC; what waits for a person (certification and
    move of each date's SCIENCE are left to the caller, as for any date)."""
    from dfos.steps.fetch import archive_client
    from dfos.steps.phoenix import intake

    reach = workspace.settings.COMPLETE_DAYS
    for mode in (Mode.CALIB, Mode.SCIENCE):
        _resume(workspace, span, mode, note, progress)
    around = window(span.days, archive_client(workspace).list_dates(), reach)
    for day in around:
        intake(workspace, day, note)
    _create_calib(workspace, around, note)
    science = _create_science(workspace, span.days, reach, note)
    batches = _calib_batches(workspace, span.days, science)
    note(f"{span.name}: COMPLETE_MODE: calibrations of {len(batches)} date(s) to build "
         f"({', '.join(b.key.text for b in batches) or 'none'}) for the science of {len(span.days)} date(s)")
    _phase(workspace, span, Mode.CALIB, batches, note, progress)
    waiting = _conclude_calib(workspace, batches, note)
    science = _create_science(workspace, span.days, reach, note)
    blocked = {day: names for day, names in _virtual(science).items() if names}
    for day, names in blocked.items():
        note(f"{day}: SCIENCE: {len(names)} AB(s) wait for calibrations a person has to certify first")
        waiting.setdefault(day.isoformat(), {})[Mode.SCIENCE.value] = names
    runnable = [BatchId.of(Mode.SCIENCE, day) for day in span.days if day in science and day not in blocked
                and _listed(workspace, BatchId.of(Mode.SCIENCE, day))]
    _phase(workspace, span, Mode.SCIENCE, runnable, note, progress)
    return waiting


def _create_calib(workspace: Workspace, days: Sequence[date], note: Note) -> None:
    """createAB CALIB for each date whose CALIB is not processed yet (QC'd), oldest first."""
    from dfos.steps.create_ab import create_abs

    flags = _flags(workspace)
    for day in days:
        if mode_flag(Mode.CALIB, Stage.QC) in flags.get(day.isoformat(), []):
            continue  # processed: its ABs stand (they wait for certification, or are moved)
        try:
            created = create_abs(workspace, day, Mode.CALIB, repeat_flag=False)
        except DfosError as exc:
            note(f"{day}: CALIB createAB: {exc.message}")
            continue
        note(f"{day}: CALIB createAB: {len(created.abs)} ABs ({len(created.written)} new or changed)")


def _create_science(workspace: Workspace, days: Sequence[date], reach: int, note: Note) -> dict[date, list[AB]]:
    """createAB SCIENCE for each science date not processed yet (the memory reaching ``reach`` days ahead): its
    COMPLETE ABs not tagged DONE."""
    from dfos.steps.create_ab import create_abs

    flags = _flags(workspace)
    found: dict[date, list[AB]] = {}
    for day in days:
        if mode_flag(Mode.SCIENCE, Stage.QC) in flags.get(day.isoformat(), []):
            continue  # processed: it waits for certification, or is moved
        try:
            created = create_abs(workspace, day, Mode.SCIENCE, ahead=reach, repeat_flag=False)
        except DfosError as exc:
            note(f"{day}: SCIENCE createAB: {exc.message}")
            continue
        done = set(created.kept_done)
        found[day] = [ab for ab in created.abs if ab.completeness is Completeness.COMPLETE and ab.name not in done]
    return found


def _calib_batches(workspace: Workspace, days: Sequence[date], science: Mapping[date, list[AB]]) -> list[BatchId]:
    """The CALIB batches to build: the science dates' own and those whose ABs make what the science takes
    (not moved yet, with an AB list), oldest first."""
    read = ab_reader(workspace.ab_dir)
    made_by = producers((ab for abs_ in science.values() for ab in abs_), read)
    keys = {*days}
    for name in made_by:
        ab = read(name)
        if ab is not None:
            keys.add(date.fromisoformat(BatchId.parse(ab.batch_id).key.text))
    from dfos.steps.phoenix import closed

    flags = _flags(workspace)  # (a batch moved, but whose move or ingest a kill interrupted, is carried on)
    return [BatchId.of(Mode.CALIB, day) for day in sorted(keys)
            if not (_moved(flags, Mode.CALIB, day) and closed(workspace, Mode.CALIB, day))
            and _listed(workspace, BatchId.of(Mode.CALIB, day))]


def _listed(workspace: Workspace, batch: BatchId) -> bool:
    """Whether a batch has ABs (its AB list names one)."""
    path = workspace.ab_list(batch.mode, batch.key)
    return path.is_file() and bool(read_ab_list(path))


def _virtual(science: Mapping[date, list[AB]]) -> dict[date, list[str]]:
    """Per science date, its ABs that still take a virtual calibration (one whose CALIB was not moved)."""
    return {day: [ab.name for ab in abs_ if any(cal.virtual for cal in ab.mcalib)] for day, abs_ in science.items()}


def _resume(workspace: Workspace, span: CompleteSpan, mode: Mode, note: Note, progress: Progress | None) -> None:
    """A phase cascade that was queued and whose batches are not QC'd (the campaign was killed) runs to its end
    first, before createAB looks at the batches again: its finished ABs are tagged DONE and never run again."""
    from dfos.ab.store import read_ab
    from dfos.jobs.model import parse_exec
    from dfos.steps.cascade import exec_cascade

    dag = span.dag(mode)
    jobs = workspace.job_dir / f"execAB_{dag}"
    if not jobs.is_file():
        return
    try:
        listed = [line.ab for line in parse_exec(jobs.read_text(encoding="utf-8"), source=str(jobs)).lines]
        keys = {BatchId.parse(read_ab(workspace.ab_dir, name).batch_id).key for name in listed}
    except DfosError:
        return  # ABs moved already (the phase is over), or a file that is no execution file: nothing to resume
    if any(_newest(workspace, mode, key) == mode_flag(mode, Stage.QUEUED) for key in keys):
        counts = exec_cascade(workspace, dag, jobs, progress=_told(progress, dag)).counts
        note(f"{span.name}: {dag}: resumed: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v))


def _phase(workspace: Workspace, span: CompleteSpan, mode: Mode, batches: Sequence[BatchId], note: Note,
           progress: Progress | None) -> None:
    """One cascade over the batches' COMPLETE ABs that are not DONE, the QC cascade of what was queued, and
    ``<mode>_QC`` for each batch that has ABs that ran."""
    from dfos.steps.cascade import exec_cascade
    from dfos.steps.create_job import create_group_job
    from dfos.steps.process_ab import load_ab

    dag = span.dag(mode)
    jobs, qc_jobs = workspace.job_dir / f"execAB_{dag}", workspace.job_dir / f"execQC_{dag}"
    if any(_ran(workspace, b) and not _qc_done(workspace, b) for b in batches) and qc_jobs.is_file():
        # a queue whose QC did not run (killed), before a new queue replaces its execution file
        exec_cascade(workspace, f"QC_{dag}", qc_jobs, progress=_told(progress, f"QC_{dag}"))
    names = [e.name for b in batches for e in read_ab_list(workspace.ab_list(b.mode, b.key))
             if not e.done and e.completeness is Completeness.COMPLETE]
    if names:
        abs_ = [load_ab(workspace, name) for name in names]
        create_group_job(workspace, dag, abs_, f"{mode} of {span.name}")
        _fetch(workspace, abs_)
        counts = exec_cascade(workspace, dag, jobs, progress=_told(progress, dag)).counts
        note(f"{span.name}: {dag}: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v))
        exec_cascade(workspace, f"QC_{dag}", qc_jobs, progress=_told(progress, f"QC_{dag}"))
    else:
        note(f"{span.name}: {mode}: nothing to run")
    _qc_flags(workspace, mode, [b for b in batches if _ran(workspace, b)])


def _told(progress: Progress | None, dag: str) -> Callable[[CascadeProgress], None] | None:
    return partial(progress, dag) if progress is not None else None


def _newest(workspace: Workspace, mode: Mode, key: ProcessingKey) -> str | None:
    """The newest flag of ``mode`` of a key."""
    mine = [f for f in _flags(workspace).get(key.text, []) if (parse_mode_flag(f) or (None, None))[0] is mode]
    return mine[-1] if mine else None


def _ran(workspace: Workspace, batch: BatchId) -> bool:
    """Whether a batch has ABs that succeeded (tagged DONE)."""
    return any(e.done for e in read_ab_list(workspace.ab_list(batch.mode, batch.key)))


def _qc_done(workspace: Workspace, batch: BatchId) -> bool:
    """Whether a batch is QC'd (``<mode>_QC``): processed; it waits for certification, or is moved."""
    return mode_flag(batch.mode, Stage.QC) in _flags(workspace).get(batch.key.text, [])


def _qc_flags(workspace: Workspace, mode: Mode, batches: Iterable[BatchId]) -> None:
    """``<mode>_QC`` for each batch that is not QC'd yet."""
    for batch in batches:
        if not _qc_done(workspace, batch):
            workspace.status_log.append(mode_flag(mode, Stage.QC), batch.key.text, clock.now(workspace.settings))


def _fetch(workspace: Workspace, abs_: Sequence[AB]) -> None:
    """The raw frames the ABs read, per date, before the cascade starts (verified)."""
    from dfos.steps.fetch import fetch_many

    by_day: dict[date, set[str]] = {}
    for ab in abs_:
        day = date.fromisoformat(BatchId.parse(ab.batch_id).key.text)
        by_day.setdefault(day, set()).update(Path(workspace.expand(r.ref)).name for r in ab.rawfiles)
    for day, names in sorted(by_day.items()):
        fetch_many(workspace, day, sorted(names))


def _conclude_calib(workspace: Workspace, batches: Sequence[BatchId], note: Note) -> Waiting:
    """Certification by policy, move (to ``$DFO_CAL_DIR/NEW/<DATE>``) and ingest of each CALIB batch; what waits
    for a person."""
    from dfos.steps.phoenix import PhoenixResult, carry_on, conclude

    waiting: Waiting = {}
    for batch in batches:
        day = date.fromisoformat(batch.key.text)
        if carry_on(workspace, day, Mode.CALIB, note) or not _ran(workspace, batch):
            continue  # moved (a move or ingest a kill interrupted is carried on first), or nothing ran
        result = PhoenixResult(batch.key.text)
        conclude(workspace, day, Mode.CALIB, result, note)
        if result.waiting:
            waiting[batch.key.text] = dict(result.waiting)
    return waiting

