"""The per-date workflow state: the dfoMonitor decision table as pure functions.

For every workflow step of a date the monitor shows WAIT (grey: not executed,
not offered), OFFER (yellow: offered now) or DONE (green: executed).  DONE
means "the step's flag appears anywhere for the date", OFFER is decided by the
*last* workflow flag of the date, and OFFER wins over DONE: createAB stays
offered after ``cal_AB`` until certify/move is done, so a scientist can re-run
ABs after spotting a bad product.

The two processing modes, CALIB and SCIENCE, run side by side: the steps of a
mode (createAB, ABs, certify/move) are decided by the last flag *of that mode
or of no mode* (``raw_Complete``, ``finished`` ...), so a ``sci_AB`` written
after ``cal_AB`` does not take the CALIB steps away.  SCIENCE createAB is
offered once ``cal_AB`` is set (SCIENCE ABs associate the virtual calibrations
the CALIB ABs will make).  finish is offered after an ``_Updated`` flag (or an
empty ``sci_AB``) when no mode is half-way (started, and not moved).

Only the workflow flags of :class:`~dfos.status.flags.StatusFlag` take part;
``<mode>_Reset`` (``dfos reset``) drops the earlier flags of its mode: the mode is offered createAB
again (:mod:`dfos.status.todo`).  Other tokens in DFO_STATUS (disk-usage records, site flags) are ignored when
finding the last flag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from dfos.keys import Mode, Stage, mode_flag, parse_mode_flag
from dfos.status.flags import StatusFlag, StatusLine
from dfos.status.todo import effective_flags, reset_pending

__all__ = [
    "PROGRESS",
    "Completeness",
    "DateFacts",
    "DateView",
    "StepState",
    "evaluate_date",
    "flags_by_key",
    "listed_dates",
]

F = StatusFlag
_WORKFLOW = {flag.value for flag in StatusFlag}
#: How far a mode got, by its newest flag (the monitor's words for the DFO_STATUS stages).
PROGRESS = {Stage.AB: "created", Stage.QUEUED: "queued", Stage.QC: "processed", Stage.CERTIF: "certified",
            Stage.UPDATED: "moved", Stage.HARVESTED: "harvested"}
#: The stages after which a mode is closed (nothing left to do before finish).
_CLOSED = (Stage.UPDATED, Stage.HARVESTED)


class StepState(StrEnum):
    """State of one workflow step of a date."""

    WAIT = "WAIT"
    OFFER = "OFFER"
    DONE = "DONE"


class Completeness(StrEnum):
    """The "all complete?" column."""

    GREEN = "GREEN"
    """raw_Complete is set."""
    RED = "RED"
    """raw_Incomplete is set and raw_Complete is not."""
    YELLOW = "YELLOW"
    """Neither, or the date is TODAY."""


@dataclass(frozen=True)
class DateFacts:
    """File-system facts the decision table needs besides the flags."""

    n_sci_abs: int | None = None
    """Number of SCIENCE ABs of the date that can run, COMPLETE ones (None: no SCIENCE AB list)."""
    n_cal_abs: int | None = None
    """Number of CALIB ABs of the date that can run, COMPLETE ones (None: no CALIB AB list)."""


@dataclass(frozen=True)
class DateView:
    """Everything the date table shows for one date."""

    date: date
    today: bool
    last_flag: str | None
    flags: tuple[str, ...]
    """Workflow flags of the date, each once, in order of first appearance."""
    complete: Completeness
    create_ab: StepState
    abs: StepState
    certify_move: StepState
    certify_light: StepState
    sci_create_ab: StepState
    """createAB -m SCIENCE."""
    sci_abs: StepState
    """createJob + cascade + QC of the SCIENCE ABs."""
    sci_certify_move: StepState
    """certify and move the SCIENCE products."""
    finish: StepState
    remove: StepState
    mode_flags: Mapping[Mode, str | None] = field(default_factory=dict)
    """The newest flag of each mode (None: the mode has not started)."""
    extra: Mapping[str, object] = field(default_factory=dict)
    """Display-only facts (AB counts ...), not part of the decision."""

    def progress(self, mode: Mode | str) -> str | None:
        """How far ``mode`` got: created, queued, processed, certified, moved (None: not started)."""
        parsed = parse_mode_flag(self.mode_flags.get(Mode.parse(mode)) or "")
        return PROGRESS[parsed[1]] if parsed else None

    def steps(self) -> dict[str, str]:
        """The step states keyed as in ``dfos status --json``, in the monitor's column order."""
        return {
            "complete": self.complete.value,
            "create_ab": self.create_ab.value,
            "abs": self.abs.value,
            "certify_move": self.certify_move.value,
            "certify_light": self.certify_light.value,
            "sci_create_ab": self.sci_create_ab.value,
            "sci_abs": self.sci_abs.value,
            "sci_certify_move": self.sci_certify_move.value,
            "finish": self.finish.value,
            "remove": self.remove.value,
        }

    def to_json(self) -> dict[str, object]:
        """The exact JSON shape of one date in ``dfos status --json``."""
        return {
            "date": self.date.isoformat(),
            "today": self.today,
            "last_flag": self.last_flag,
            "flags": list(self.flags),
            "steps": self.steps(),
            "progress": {mode.value: self.progress(mode) for mode in Mode},
        }


def _step(offer: bool, done: bool) -> StepState:
    if offer:
        return StepState.OFFER
    if done:
        return StepState.DONE
    return StepState.WAIT


def _completeness(has: Callable[[StatusFlag], bool], is_today: bool) -> Completeness:
    if is_today:
        return Completeness.YELLOW
    if has(F.RAW_COMPLETE):
        return Completeness.GREEN
    if has(F.RAW_INCOMPLETE):
        return Completeness.RED
    return Completeness.YELLOW


def _last_of(workflow: Sequence[str], mode: Mode) -> str | None:
    """The newest flag of ``mode`` or of no mode (the other mode's flags do not count)."""
    for flag in reversed(workflow):
        parsed = parse_mode_flag(flag)
        if parsed is None or parsed[0] is mode:
            return flag
    return None


def _mode_last(workflow: Sequence[str], mode: Mode) -> str | None:
    """The newest flag of ``mode`` itself (None: the mode has not started)."""
    return next((flag for flag in reversed(workflow) if (parsed := parse_mode_flag(flag)) and parsed[0] is mode),
                None)


def _open(mode: Mode, last: str | None, n_sci_abs: int | None) -> bool:
    """Whether ``mode`` is half-way: started, not moved (an empty ``sci_AB`` is closed)."""
    if last is None or last in {mode_flag(mode, stage) for stage in _CLOSED}:
        return False
    return not (last == F.SCI_AB.value and n_sci_abs == 0)


def evaluate_date(
    day: date,
    flags: Sequence[str],
    is_today: bool,
    facts: DateFacts = DateFacts(),
) -> DateView:
    """Apply the decision table to the flags of one date, in file order.

    Parameters
    ----------
    day
        The DFO date.
    flags
        Every flag written for the date, oldest first (non-workflow tokens allowed).
    is_today
        Whether ``day`` is TODAY.
    facts
        File-system facts (the AB counts of each mode, for the finish rule).
    """
    # a <mode>_Reset (dfos reset) sends its mode back to before createAB (dfos.status.todo)
    workflow = effective_flags([flag for flag in flags if flag in _WORKFLOW])
    seen = set(workflow)
    last = workflow[-1] if workflow else None
    cal, sci = _last_of(workflow, Mode.CALIB), _last_of(workflow, Mode.SCIENCE)
    mode_flags = {mode: _mode_last(workflow, mode) for mode in Mode}

    def has(flag: StatusFlag) -> bool:
        return flag.value in seen

    def among(flag: str | None, *candidates: StatusFlag) -> bool:
        return flag in {c.value for c in candidates}

    sci_ab_empty = last == F.SCI_AB.value and facts.n_sci_abs == 0
    closing = among(last, F.CAL_UPDATED, F.SCI_UPDATED) or sci_ab_empty
    half_way = any(_open(mode, mode_flags[mode], facts.n_sci_abs) for mode in Mode)
    half_way = half_way or any(reset_pending(flags, mode) for mode in Mode)  # reset: to run again, not to close
    # a mode whose AB list names ABs must be moved before the date closes (finish refuses otherwise)
    unmoved = (bool(facts.n_cal_abs) and not has(F.CAL_UPDATED)) or (bool(facts.n_sci_abs) and not has(F.SCI_UPDATED))
    return DateView(
        date=day,
        today=is_today,
        last_flag=last,
        flags=tuple(dict.fromkeys(workflow)),
        complete=_completeness(has, is_today),
        create_ab=_step(among(cal, F.RAW_COMPLETE, F.CAL_AB, F.CAL_QUEUED, F.CAL_QC), has(F.CAL_AB)),
        abs=_step(among(cal, F.CAL_AB, F.CAL_QUEUED, F.CAL_QC), False),
        certify_move=_step(among(cal, F.CAL_QC), has(F.CAL_CERTIF)),
        certify_light=_step(among(cal, F.CAL_QC) and is_today, False),
        sci_create_ab=_step(has(F.CAL_AB) and among(sci, F.RAW_COMPLETE, F.SCI_AB, F.SCI_QUEUED, F.SCI_QC),
                            has(F.SCI_AB)),
        sci_abs=_step(among(sci, F.SCI_AB, F.SCI_QUEUED, F.SCI_QC), False),
        sci_certify_move=_step(among(sci, F.SCI_QC), has(F.SCI_CERTIF)),
        finish=_step(closing and not half_way and not unmoved, has(F.FINISHED)),
        remove=_step(has(F.FINISHED), False),
        mode_flags=mode_flags,
    )


def flags_by_key(lines: Iterable[StatusLine]) -> dict[str, list[str]]:
    """Group the flags of DFO_STATUS by date (key), keeping file order."""
    grouped: dict[str, list[str]] = {}
    for line in lines:
        grouped.setdefault(line.key, []).append(line.flag)
    return grouped


def listed_dates(
    flags: Mapping[str, Sequence[str]],
    header_dates: Iterable[date],
    raw_dates: Iterable[date],
    n_dfo_hdr: int,
) -> list[date]:
    """The dates the date table shows, newest first.

    A date is listed when it is among the newest ``n_dfo_hdr`` dates that have
    a header directory, its raw directory exists, ``fits_Requested`` is set and
    ``removed`` is not.
    """
    newest = sorted(set(header_dates), reverse=True)[:n_dfo_hdr]
    raw = set(raw_dates)
    shown = []
    for day in newest:
        day_flags = flags.get(day.isoformat(), ())
        if day in raw and F.FITS_REQUESTED.value in day_flags and F.REMOVED.value not in day_flags:
            shown.append(day)
    return shown
