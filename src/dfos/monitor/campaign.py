"""The phoenixMonitor: the monitor's front page in the phoenix flavour, a view of the reprocessing campaign.

One row per key of ``JOBS_PHOENIX`` (dates, and runs: the DEEP mode's pseudo-dates) with its job lines and
their outcomes, and per mode the ABs per state, the certification, the QC verdicts and the products moved;
above them the campaign's progress and an estimated end (:func:`estimate_end`).

Where the numbers come from (docs/monitor.md "phoenixMonitor"): five aggregate queries over the whole
database (:func:`~dfos.monitor.queries.campaign_tallies`), JOBS_PHOENIX and DFO_STATUS (one read each), and
per key its AB lists and product directories, each read again only when its modification time changes
(:class:`_StatCache`): a request never reads AB files, and never one row per AB.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Generic, TypeVar

from dfos import clock
from dfos.ab.lists import parse_ab_list
from dfos.ab.model import Completeness
from dfos.errors import DfosError
from dfos.jobs.phoenix import JobLine, LineState, parse_jobs
from dfos.keys import BatchId, KeyKind, Mode, ProcessingKey, Stage, mode_flag
from dfos.monitor.abmonitor import STATES, address
from dfos.monitor.queries import CampaignTallies, campaign_tallies
from dfos.status.flags import StatusFlag, StatusLine
from dfos.status.log import StatusLog
from dfos.steps.certified_names import cal_root
from dfos.workspace import Workspace

__all__ = ["CERTIFICATION", "VERDICTS", "CampaignPage", "Estimate", "KeyRow", "ListSummary", "ModeTally",
           "campaign_json", "campaign_page", "estimate_end", "mode_states"]

#: The certification columns: a standing decision, none yet, or only a provisional one (``certify -L``).
CERTIFICATION = ("accepted", "rejected", "undecided", "provisional")
#: The QC verdicts of an AB (``ab_qc``): all scored green, some red, nothing scored.
VERDICTS = ("green", "red", "grey")
JOBS_PHOENIX = "JOBS_PHOENIX"


# --- the estimate (pure) ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """When the campaign ends at the pace it kept so far."""

    done: int
    total: int
    rate: float | None
    """Keys finished per hour between the campaign's start and its newest finished key (None: no basis)."""
    end: datetime | None
    """The estimated end (None: no estimate yet); the last key's end once every key is done."""

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.done >= self.total

    def text(self) -> str:
        if self.finished and self.end is not None:
            return f"finished {self.end:%Y-%m-%d %H:%M} UT"
        if self.end is None or self.rate is None:
            return "no estimate yet"
        return f"{self.end:%Y-%m-%d %H:%M} UT (at {self.rate:.2f} keys/h)"


def estimate_end(total: int, finished: Sequence[datetime], started: datetime | None, now: datetime) -> Estimate:
    """The estimated end of a campaign of ``total`` keys, of which those finished at ``finished``.

    rate = finished keys / hours from ``started`` (the campaign's first recorded work) to the newest finished
    key; end = max(now, newest finished) + remaining keys / rate: the rest, started now (or when the last key
    finished), going at the pace kept so far (pauses included).  No estimate before a key finished after the
    start (no basis); once every key is done the end is when the last one finished."""
    done = len(finished)
    if not finished or started is None:
        return Estimate(done, total, None, None)
    last = max(finished)
    if total and done >= total:
        return Estimate(done, total, None, last)
    hours = (last - started).total_seconds() / 3600
    if hours <= 0:
        return Estimate(done, total, None, None)
    rate = done / hours
    return Estimate(done, total, rate, max(now, last) + timedelta(hours=(total - done) / rate))


# --- the counts of one mode of a key (pure) --------------------------------------------------------------

@dataclass(frozen=True)
class ListSummary:
    """An AB list in numbers: its ABs, the INCOMPLETE ones, those tagged DONE."""

    total: int
    incomplete: int
    done: int


def mode_states(listed: ListSummary, nodes: dict[str, int]) -> dict[str, int]:
    """ABs per AB-monitor state (:data:`~dfos.monitor.abmonitor.STATES`) from the AB list's summary and the
    cascade's node states: INCOMPLETE ABs are ``incomplete``; waiting and submitted nodes ``queued``; DONE ABs
    count as succeeded also when their cascade record is gone; the rest of the list is ``created``."""
    states = {s: 0 for s in STATES}
    states["queued"] = nodes.get("waiting", 0) + nodes.get("submitted", 0)
    for state in ("running", "failed", "blocked"):
        states[state] = nodes.get(state, 0)
    states["succeeded"] = max(nodes.get("succeeded", 0), listed.done)
    states["incomplete"] = listed.incomplete
    states["created"] = max(0, listed.total - sum(states.values()))
    return states


@dataclass(frozen=True)
class ModeTally:
    """One mode of a key on the campaign page."""

    mode: Mode
    address: str
    """Where its AB monitor is (``/abs/<address>``)."""
    listed: int | None
    """ABs in its AB list (None: no list yet)."""
    states: dict[str, int]
    reused: int
    """Succeeded ABs that reused an earlier run of their content key (no recipe ran)."""
    certification: dict[str, int]
    verdicts: dict[str, int]
    products: int
    """Products moved: science products in ``$DFO_SCI_DIR/<KEY>``, masters in ``$DFO_CAL_DIR/<KEY>`` (COMPLETE_MODE:
    ``$DFO_CAL_DIR/NEW/<KEY>``)."""

    @property
    def trouble(self) -> bool:
        return bool(self.states["failed"] or self.states["blocked"] or self.verdicts["red"]
                    or self.certification["rejected"])


def _tally(tallies: CampaignTallies, batch: BatchId, listed: ListSummary | None, products: int) -> ModeTally:
    name = batch.render()
    said = tallies.decisions.get(name, {})
    provisional = tallies.provisional.get(name, 0)
    verdicts = {v: tallies.verdicts.get(name, {}).get(v, 0) for v in VERDICTS}
    accepted, rejected = said.get("certified", 0), said.get("rejected", 0)
    certification = {"accepted": accepted, "rejected": rejected,
                     "undecided": max(0, sum(verdicts.values()) - accepted - rejected - provisional),
                     "provisional": provisional}
    states = mode_states(listed or ListSummary(0, 0, 0), tallies.nodes.get(name, {}))
    return ModeTally(batch.mode, address(batch), listed.total if listed else None, states,
                     tallies.reused.get(name, 0), certification, verdicts, products)


# --- a key, the page --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KeyRow:
    """A date or a run of the campaign."""

    key: ProcessingKey
    jobs: tuple[JobLine, ...]
    flags: tuple[str, ...]
    done_at: datetime | None
    """When the key was finished (None: not finished)."""
    modes: tuple[ModeTally, ...]

    @property
    def done(self) -> bool:
        return self.done_at is not None

    @property
    def state(self) -> str:
        """done | failed | waiting | queued | started (the worst of its job lines, unless done)."""
        if self.done:
            return "done"
        states = {job.state for job in self.jobs}
        for state in (LineState.FAILED, LineState.WAITING):
            if state in states:
                return state.value
        return "queued" if states <= {LineState.QUEUED} and not self.flags else "started"

    @property
    def trouble(self) -> bool:
        return self.state == "failed" or any(m.trouble for m in self.modes)


@dataclass(frozen=True)
class CampaignPage:
    rows: tuple[KeyRow, ...]
    estimate: Estimate
    abs_done: int
    """Succeeded ABs of every key (reused ones included)."""
    abs_total: int
    """ABs in the keys' AB lists (keys not yet associated add theirs later)."""
    abs_failed: int
    started: datetime | None
    jobs_file: str
    now: datetime = field(compare=False)

    @property
    def keys_done(self) -> int:
        return sum(1 for row in self.rows if row.done)


def campaign_json(found: CampaignPage) -> dict[str, object]:
    """``/api/campaign``: the page's numbers for scripts."""
    def stamp(moment: datetime | None) -> str | None:
        return moment.isoformat(timespec="seconds") if moment else None

    return {"keys_done": found.keys_done, "keys_total": len(found.rows), "abs_done": found.abs_done,
            "abs_total": found.abs_total, "abs_failed": found.abs_failed, "started": stamp(found.started),
            "estimated_end": stamp(found.estimate.end) if not found.estimate.finished else None,
            "rate_keys_per_hour": found.estimate.rate, "estimate": found.estimate.text(),
            "keys": [{"key": row.key.text, "kind": row.key.kind.value, "state": row.state,
                      "done_at": stamp(row.done_at), "flags": list(row.flags),
                      "jobs": [{"command": j.command, "state": j.state.value, "when": stamp(j.when),
                                "outcome": j.outcome} for j in row.jobs],
                      "modes": [{"mode": m.mode.value, "abs": m.listed, "states": m.states, "reused": m.reused,
                                 "certification": m.certification, "verdicts": m.verdicts, "products": m.products,
                                 "address": m.address} for m in row.modes]}
                     for row in found.rows]}


def _done_at(key: ProcessingKey, jobs: Sequence[JobLine], lines: Sequence[StatusLine]) -> datetime | None:
    """When a key was finished: the time of its finishing job line (a date's ``-d`` that finished, a run's
    ``-M`` that moved), else of its flag ``finished`` (a date) or ``sci_Updated`` (a run); None: not yet."""
    ends = [job.when for job in jobs if job.finishes and job.when is not None]
    if ends:
        return max(ends)
    flag = StatusFlag.FINISHED.value if key.kind is KeyKind.DATE else mode_flag(Mode.SCIENCE, Stage.UPDATED)
    stamps = [line.timestamp for line in lines if line.flag == flag]
    return max(stamps) if stamps else None


def campaign_page(workspace: Workspace) -> CampaignPage:
    """Everything the phoenixMonitor shows (see the module docstring)."""
    path = workspace.job_dir / JOBS_PHOENIX
    by_key: dict[ProcessingKey, list[JobLine]] = {}
    for job in _JOBS.get(path) or []:
        by_key.setdefault(job.key, []).append(job)
    status: dict[str, list[StatusLine]] = {}
    for line in _STATUS.get(workspace.status_log.path) or []:
        status.setdefault(line.key, []).append(line)
    tallies = campaign_tallies(workspace)
    places = _Places(workspace.mon_dir, workspace.sci_dir, cal_root(workspace))
    rows = tuple(_row(places, tallies, key, key_jobs, status.get(key.text, [])) for key, key_jobs in by_key.items())
    stamps = [line.timestamp for key in by_key for line in status.get(key.text, [])]
    if tallies.first_start:
        stamps.append(datetime.fromisoformat(tallies.first_start[:19]))
    started = min(stamps) if stamps else None
    now = clock.now(workspace.settings)
    finished = [row.done_at for row in rows if row.done_at is not None]
    modes = [m for row in rows for m in row.modes]
    return CampaignPage(rows, estimate_end(len(rows), finished, started, now),
                        sum(m.states["succeeded"] for m in modes), sum(m.listed or 0 for m in modes),
                        sum(m.states["failed"] for m in modes), started, str(path), now)


@dataclass(frozen=True)
class _Places:
    """Where a key's AB lists and products are (:meth:`Workspace.ab_list`, ``$DFO_SCI_DIR``, ``$DFO_CAL_DIR``, or
    ``$DFO_CAL_DIR/NEW`` in COMPLETE_MODE: :func:`~dfos.steps.certified_names.cal_root`), resolved once per page."""

    mon_dir: Path
    sci_dir: Path
    cal_dir: Path

    def ab_list(self, batch: BatchId) -> Path:
        return self.mon_dir / f"AB_list_{batch.render()}"

    def products(self, batch: BatchId) -> Path:
        return (self.sci_dir if batch.mode is Mode.SCIENCE else self.cal_dir) / batch.key.text


def _row(places: _Places, tallies: CampaignTallies, key: ProcessingKey, jobs: list[JobLine],
         lines: list[StatusLine]) -> KeyRow:
    modes = (Mode.CALIB, Mode.SCIENCE) if key.kind is KeyKind.DATE else (Mode.SCIENCE,)
    batches = [BatchId.of(mode, key) for mode in modes]
    tally = tuple(_tally(tallies, batch, _LISTS.get(places.ab_list(batch)), _FILES.get(places.products(batch)) or 0)
                  for batch in batches)
    return KeyRow(key, tuple(jobs), tuple(line.flag for line in lines), _done_at(key, jobs, lines), tally)


# --- files read again only when they change ---------------------------------------------------------------

T = TypeVar("T")


class _StatCache(Generic[T]):
    """``read(path)`` kept per path and read again only when the path's modification time, size or inode
    changes (a directory's time changes when a file is added or removed).  None for a missing path."""

    def __init__(self, read: Callable[[Path], T]) -> None:
        self._read = read
        self._kept: dict[Path, tuple[tuple[int, int, int], T]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> T | None:
        try:
            info = os.stat(path)
        except OSError:
            return None
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        with self._lock:
            kept = self._kept.get(path)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        value = self._read(path)
        with self._lock:
            self._kept[path] = (stamp, value)
        return value


def _summary(path: Path) -> ListSummary:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        entries = [entry for _, entry in parse_ab_list(text, str(path))]
    except DfosError:  # a damaged list: its lines count, the AB monitor names the fault
        lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        return ListSummary(len(lines), 0, 0)
    return ListSummary(len(entries), sum(1 for e in entries if e.completeness is Completeness.INCOMPLETE),
                       sum(1 for e in entries if e.done))


def _fits_count(directory: Path) -> int:
    if not directory.is_dir():
        return 0
    with os.scandir(directory) as found:
        return sum(1 for entry in found if entry.name.endswith(".fits") and entry.is_file())


def _status_lines(path: Path) -> list[StatusLine]:
    return StatusLog(path).read()


def _job_lines(path: Path) -> list[JobLine]:
    return parse_jobs(path.read_text(encoding="utf-8", errors="replace"))


_LISTS: _StatCache[ListSummary] = _StatCache(_summary)
_STATUS: _StatCache[list[StatusLine]] = _StatCache(_status_lines)
_JOBS: _StatCache[list[JobLine]] = _StatCache(_job_lines)
_FILES: _StatCache[int] = _StatCache(_fits_count)
