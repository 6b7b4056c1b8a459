"""Honest states (issue 20): what went wrong is said where one looks, not hidden in a tooltip.

* the date table's AB cell says how many of a mode's ABs failed, are blocked or are INCOMPLETE
  (:func:`date_trouble`, :func:`trouble_text`);
* a monitor job is ``failed`` when a command exited non-zero, an AB it ran failed, or its log has an
  error line (:func:`job_problems`);
* the AB monitor shows the reason of a failed, blocked or INCOMPLETE AB inline, with a link to the first
  error line of a failed AB's log, and a certification column (:func:`ab_extras`);
* a log view opens at its end, or at its first error line (:func:`log_lines`);
* ages on the dfoMonitor are measured on one clock, the dfos clock (:func:`file_moment`).

The decisions are pure functions; the reads (AB lists, the database, AB files) are in :func:`date_trouble`
and :func:`ab_extras` only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dfos.ab.format import parse
from dfos.db import ab_qc, ab_runs, cascade_nodes, certifications, comments, engine_for_url
from dfos.errors import DfosError
from dfos.keys import BatchId, Mode
from dfos.monitor.campaign import _LISTS, _StatCache
from dfos.workspace import Workspace

__all__ = ["CERT_STATES", "TROUBLE", "ABExtra", "LogLines", "ab_extras", "certification_state", "date_trouble",
           "error_line", "file_moment", "first_error", "job_problems", "log_lines", "trouble_fingerprint",
           "trouble_text"]

#: The AB states the date table counts beside the number of ABs (in this order, each in its colour).
TROUBLE = ("failed", "blocked", "incomplete")
#: The certification column of the AB monitor.
CERT_STATES = ("accepted", "rejected", "provisional", "undecided")
#: An error line of a log: dfos' ``Error: ...``, CPL's ``[ ERROR ]``.
ERROR_LINE = re.compile(r"(^|\s)Error:|\[ ?ERROR ?\]")
#: A cascade summary line of ``dfos exec-cascade`` (``CALIB_2013-02-12: 5 succeeded, 1 failed, ...``) or the
#: job files' ``... some ABs failed or were blocked``.
_CASCADE_FAILED = re.compile(r"^\S+: .*?\b([1-9]\d*) failed\b|some ABs failed")


# --- the date table ---------------------------------------------------------------------------------------

def date_trouble(workspace: Workspace, rows: Sequence[Any]) -> dict[str, dict[str, dict[str, int]]]:
    """Per date row (:class:`~dfos.monitor.facts.DateRow`) and mode with an AB list: its failed, blocked and
    incomplete ABs (only the non-zero ones).  Failed and blocked come from the cascades' records (one aggregate
    query over every cascade), incomplete from the AB list's summary (read again only when the list changes),
    as the phoenixMonitor counts them (:func:`~dfos.monitor.campaign.mode_states`)."""
    nodes: dict[str, dict[str, int]] = {}
    with engine_for_url(workspace.db_url).begin() as db:
        for dag, state, n in db.execute(select(cascade_nodes.c.dag_id, cascade_nodes.c.state, func.count())
                                        .where(cascade_nodes.c.state.in_(("failed", "blocked")))
                                        .group_by(cascade_nodes.c.dag_id, cascade_nodes.c.state)):
            nodes.setdefault(dag, {})[state] = n
    found: dict[str, dict[str, dict[str, int]]] = {}
    for row in rows:
        for mode, n_abs in ((Mode.CALIB, row.n_cal_abs), (Mode.SCIENCE, row.n_sci_abs)):
            if not n_abs:
                continue
            batch = BatchId.of(mode, row.view.date)
            listed = _LISTS.get(workspace.ab_list(batch.mode, batch.key))
            counts = {**nodes.get(batch.render(), {}), "incomplete": listed.incomplete if listed else 0}
            found.setdefault(row.key, {})[mode.value] = {s: counts[s] for s in TROUBLE if counts.get(s)}
    return found


def trouble_text(n_abs: int, counts: dict[str, int]) -> str:
    """``7 ABs · 1 failed · 2 blocked`` (the cell as text; the page colours each part)."""
    return " · ".join([f"{n_abs} ABs"] + [f"{counts[s]} {s}" for s in TROUBLE if counts.get(s)])


def trouble_fingerprint(state: str, trouble: dict[str, dict[str, dict[str, int]]]) -> str:
    """The date table's fingerprint (:func:`~dfos.monitor.facts.dates_state`) extended by the trouble counts, so
    that the page reloads when an AB fails."""
    shown = repr(sorted((k, sorted((m, sorted(c.items())) for m, c in v.items())) for k, v in trouble.items()))
    return hashlib.sha256((state + shown).encode()).hexdigest()[:16]


# --- jobs -------------------------------------------------------------------------------------------------

def error_line(line: str) -> bool:
    """An error line (a monitor job's ``$ <command>`` lines, which only echo what runs, are none)."""
    return not line.startswith("$ ") and ERROR_LINE.search(line) is not None


def first_error(lines: Iterable[str]) -> int | None:
    """The index of the first error line (None: none)."""
    return next((index for index, line in enumerate(lines) if error_line(line)), None)


def job_problems(returncodes: Sequence[int], log: str) -> list[str]:
    """Why a finished monitor job is ``failed`` (empty: it is ``done``): a command that exited non-zero
    (11: ``exec-cascade`` ran and some ABs failed), a cascade that reports failed ABs, an error line."""
    problems = [f"a command exited with code {code}" + (" (some ABs failed or were blocked)" if code == 11 else "")
                for code in returncodes if code != 0]
    lines = log.splitlines()
    failed = [line.strip() for line in lines if not line.startswith("$ ") and _CASCADE_FAILED.search(line)]
    if failed:
        problems.append(f"ABs failed: {failed[0]}")
    index = first_error(lines)
    if index is not None:
        problems.append(f"error in the log (line {index + 1}): {lines[index].strip()[:300]}")
    return problems


# --- the AB monitor ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ABExtra:
    """What the AB monitor shows of an AB beyond its row: the reason inline, the log to open, certification."""

    reason: str
    log: str
    """The workspace-relative log of a failed AB ('' none), opened at its first error line."""
    certification: str
    """accepted | rejected | provisional | undecided | '' (nothing to certify)."""

    def to_json(self) -> dict[str, str]:
        return {"reason": self.reason, "log": self.log, "certification": self.certification}


def certification_state(decision: str | None, provisional: bool, succeeded: bool) -> str:
    """The certification column: the standing decision, a provisional one (``certify -L``), or undecided."""
    if decision == "certified":
        return "accepted"
    if decision == "rejected":
        return "rejected"
    if provisional:
        return "provisional"
    return "undecided" if succeeded or decision else ""


def _missing(path: Path) -> str:
    try:
        return "; ".join(parse(path.read_text(encoding="utf-8", errors="replace"), str(path)).missing)
    except (DfosError, OSError):
        return ""


#: The ``MISSING`` lines of AB files, read again only when a file changes.
_MISSING: _StatCache[str] = _StatCache(_missing)


def _incomplete_reason(workspace: Workspace, name: str, day: str) -> str:
    """Why an AB is INCOMPLETE (the ``MISSING`` lines of its AB file, in ``$DFO_AB_DIR`` or moved)."""
    for path in (workspace.ab_dir / name, workspace.log_dir / day / name):
        found = _MISSING.get(path)
        if found is not None:
            return found
    return ""


def _relative(workspace: Workspace, path: str | None) -> str:
    if not path:
        return ""
    try:
        return str(Path(path).resolve().relative_to(workspace.root.resolve()))
    except ValueError:
        return ""


def ab_extras(workspace: Workspace, day: str, rows: Sequence[Any]) -> dict[str, ABExtra]:
    """Per AB row of an AB monitor page (:class:`~dfos.monitor.abmonitor.ABRow`): its reason, log, certification."""
    names = [row.name for row in rows]
    if not names:
        return {}
    with engine_for_url(workspace.db_url).begin() as db:
        newest = (select(certifications.c.ab, func.max(certifications.c.id).label("id"))
                  .where(certifications.c.ab.in_(names)).group_by(certifications.c.ab).subquery())
        decisions = {r.ab: r.decision for r in db.execute(
            select(certifications.c.ab, certifications.c.decision).join(newest, certifications.c.id == newest.c.id))}
        provisional = {r.subject for r in db.execute(
            select(comments.c.subject).where(comments.c.scope == "ab", comments.c.subject.in_(names),
                                             comments.c.text.like("provisional %")))}
        scored = {r.ab for r in db.execute(select(ab_qc.c.ab).where(ab_qc.c.ab.in_(names)))}
        last_run = (select(ab_runs.c.ab, func.max(ab_runs.c.id).label("id"))
                    .where(ab_runs.c.ab.in_(names)).group_by(ab_runs.c.ab).subquery())
        logs = {r.ab: r.log for r in db.execute(
            select(ab_runs.c.ab, ab_runs.c.log, ab_runs.c.status).join(last_run, ab_runs.c.id == last_run.c.id))
            if r.status == "FAILED"}
    found = {}
    for row in rows:
        reason = row.message if row.state in ("failed", "blocked", "queued") else ""
        if row.state == "incomplete":
            reason = row.message or _incomplete_reason(workspace, row.name, day) or "INCOMPLETE: inputs missing"
        log = _relative(workspace, logs.get(row.name)) if row.state == "failed" else ""
        cert = certification_state(decisions.get(row.name), row.name in provisional,
                                   row.state == "succeeded" and row.name in scored)
        found[row.name] = ABExtra(reason, log, cert)
    return found


# --- log views --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogLines:
    lines: tuple[str, ...]
    first_error: int | None
    """The index of the first error line (its anchor: ``#first-error``)."""


def log_lines(text: str) -> LogLines:
    lines = tuple(text.splitlines())
    return LogLines(lines, first_error(lines))


# --- one clock --------------------------------------------------------------------------------------------

def file_moment(mtime: float, dfos_now: datetime, system_now: datetime) -> datetime:
    """A file's modification time on the dfos clock (naive UT).

    The dfos clock is the system clock moved to ``NOW`` when that is set (``DFOS_NOW``); a file's mtime is a
    system-clock time, so it is moved by the same offset.  Ages (``dfos_now - moment``) of files and of
    dfos' own timestamps (``AUTO_DAILY/last_run``, ``ab_runs.ended``) are then measured on one clock.
    """
    stamp = datetime.fromtimestamp(mtime, UTC).replace(tzinfo=None)
    return stamp + (dfos_now - system_now) if dfos_now != system_now else stamp


def age_hours(moment: datetime, now: datetime) -> float:
    return max((now - moment) / timedelta(hours=1), 0.0)
