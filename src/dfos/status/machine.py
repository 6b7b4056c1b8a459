"""The per-date workflow state: the dfoMonitor decision table as pure functions.

For every workflow step of a date the monitor shows WAIT (grey: not executed,
not offered), OFFER (yellow: offered now) or DONE (green: executed).  DONE
means "the step's flag appears anywhere for the date", OFFER is decided by the
*last* workflow flag of the date, and OFFER wins over DONE: createAB stays
offered after ``cal_AB`` until certify/move is done, so a scientist can re-run
ABs after spotting a bad product.

Only the workflow flags of :class:`~dfos.status.flags.StatusFlag` take part;
other tokens in DFO_STATUS (disk-usage records, site flags) are ignored when
finding the last flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from dfos.status.flags import StatusFlag, StatusLine

__all__ = [
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
    """Number of SCIENCE ABs of the date (None: no SCIENCE AB list)."""
    n_cal_abs: int | None = None
    """Number of CALIB ABs of the date (None: no CALIB AB list)."""


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
    finish: StepState
    remove: StepState
    extra: Mapping[str, object] = field(default_factory=dict)
    """Display-only facts (AB counts ...), not part of the decision."""

    def steps(self) -> dict[str, str]:
        """The step states keyed as in ``dfos status --json``."""
        return {
            "complete": self.complete.value,
            "create_ab": self.create_ab.value,
            "abs": self.abs.value,
            "certify_move": self.certify_move.value,
            "certify_light": self.certify_light.value,
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
        }


def _step(offer: bool, done: bool) -> StepState:
    if offer:
        return StepState.OFFER
    if done:
        return StepState.DONE
    return StepState.WAIT


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
    workflow = [flag for flag in flags if flag in _WORKFLOW]
    seen = set(workflow)
    last = workflow[-1] if workflow else None

    def has(flag: StatusFlag) -> bool:
        return flag.value in seen

    def last_in(*candidates: StatusFlag) -> bool:
        return last in {c.value for c in candidates}

    if is_today:
        complete = Completeness.YELLOW
    elif has(F.RAW_COMPLETE):
        complete = Completeness.GREEN
    elif has(F.RAW_INCOMPLETE):
        complete = Completeness.RED
    else:
        complete = Completeness.YELLOW

    sci_ab_empty = last == F.SCI_AB.value and facts.n_sci_abs == 0
    # a mode whose AB list names ABs must be moved before the date closes (finish refuses otherwise)
    unmoved = (bool(facts.n_cal_abs) and not has(F.CAL_UPDATED)) or (bool(facts.n_sci_abs) and not has(F.SCI_UPDATED))
    return DateView(
        date=day,
        today=is_today,
        last_flag=last,
        flags=tuple(dict.fromkeys(workflow)),
        complete=complete,
        create_ab=_step(last_in(F.RAW_COMPLETE, F.CAL_AB, F.CAL_QUEUED, F.CAL_QC), has(F.CAL_AB)),
        abs=_step(last_in(F.CAL_AB, F.CAL_QUEUED, F.CAL_QC), False),
        certify_move=_step(last_in(F.CAL_QC), has(F.CAL_CERTIF)),
        certify_light=_step(last_in(F.CAL_QC) and is_today, False),
        finish=_step((last_in(F.CAL_UPDATED, F.SCI_UPDATED) or sci_ab_empty) and not unmoved, has(F.FINISHED)),
        remove=_step(has(F.FINISHED), False),
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
