"""The date table (dfoMonitor's main table): workspace facts through the decision table."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from dfos import clock
from dfos.ab.lists import read_ab_list
from dfos.ab.model import Completeness
from dfos.errors import DfosError, NotFound
from dfos.keys import Mode
from dfos.status.flags import StatusLine
from dfos.status.machine import DateFacts, DateView, evaluate_date, flags_by_key, listed_dates
from dfos.workspace import Workspace

__all__ = ["DateTable", "ab_count", "append_flag", "date_table", "trim_status"]


@dataclass(frozen=True)
class DateTable:
    """TODAY and the rows of the date table, newest first."""

    today: date
    rows: tuple[DateView, ...]

    def to_json(self) -> dict[str, object]:
        """The ``dfos status --json`` document."""
        return {"today": self.today.isoformat(), "dates": [row.to_json() for row in self.rows]}


def ab_count(ab_list: Path) -> int | None:
    """Number of ABs named in an AB list (None when the list does not exist)."""
    if not ab_list.is_file():
        return None
    lines = ab_list.read_text(encoding="utf-8", errors="replace").splitlines()
    return sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))


def runnable_count(ab_list: Path) -> int | None:
    """Number of COMPLETE ABs in an AB list: those a mode must process, certify and move before its date
    closes (INCOMPLETE ones cannot run: UVES science without static line tables).  None: no list; an
    unreadable list counts every line (the closing steps then refuse it, naming the file)."""
    if not ab_list.is_file():
        return None
    try:
        return sum(1 for entry in read_ab_list(ab_list) if entry.completeness is Completeness.COMPLETE)
    except DfosError:
        return ab_count(ab_list)


def _view(workspace: Workspace, day: date, flags: list[str], today: date) -> DateView:
    facts = DateFacts(n_sci_abs=runnable_count(workspace.ab_list(Mode.SCIENCE, day)),
                      n_cal_abs=runnable_count(workspace.ab_list(Mode.CALIB, day)))
    view = evaluate_date(day, flags, is_today=(day == today), facts=facts)
    return replace(view, extra={"n_cal_abs": ab_count(workspace.ab_list(Mode.CALIB, day)),
                                "n_sci_abs": ab_count(workspace.ab_list(Mode.SCIENCE, day))})


def date_table(workspace: Workspace, only: date | None = None) -> DateTable:
    """Compute the date table; with ``only``, just that date (even if it is not listed)."""
    today = clock.today(workspace.settings)
    flags = flags_by_key(workspace.status_log.read())
    if only is not None:
        key = only.isoformat()
        if key not in flags:
            raise NotFound(
                f"{key} has no entry in {workspace.status_log.path}; "
                f"extract its headers first with 'dfos headers -d {key}'"
            )
        return DateTable(today, (_view(workspace, only, flags[key], today),))
    shown = listed_dates(
        flags,
        header_dates=workspace.date_dirs("DFO_HDR_DIR"),
        raw_dates=workspace.date_dirs("DFO_RAW_DIR"),
        n_dfo_hdr=workspace.settings.N_DFO_HDR,
    )
    return DateTable(today, tuple(_view(workspace, day, flags[day.isoformat()], today) for day in shown))


def append_flag(workspace: Workspace, flag: str, day: date) -> StatusLine:
    """Append ``<flag> <DATE> <now>`` to DFO_STATUS (the job files' way of reporting progress)."""
    return workspace.status_log.append(flag, day.isoformat(), clock.now(workspace.settings))


def trim_status(workspace: Workspace) -> int:
    """Trim DFO_STATUS to the newest ``STATUS_KEEP_LINES`` lines; return how many were dropped."""
    return workspace.status_log.trim(workspace.settings.STATUS_KEEP_LINES)
