"""autoDaily: the automatic incremental day, run from cron while calibrations arrive.

One run: find the dates with new data (ngasMonitor: the archive's newest nights against the
headers already taken in; plus any date an operator put in ``$DFO_MON_DIR/list_data_dates``), and
for each: header intake, the raw flags, incremental createAB, createJob ``-F`` (the JOBS_AUTO
block), then what that block does (downloads, the cascade, QC, ``cal_QC``), the health-check
trends.  The monitor is live, so it needs no refresh.  Everything is logged to
``$DFO_MON_DIR/AUTO_DAILY/auto_daily_<time>.log``; ``AUTO_DAILY/last_run`` holds the time of the
last run (the monitor shows its age).  A run with nothing new returns at once.

Only one run at a time: the lock ``AUTO_DAILY/.lock`` is a kernel ``flock``, released when its
holder dies (even by SIGKILL), so a crashed run never blocks the next; a second run exits at once
with :data:`AUTO_DAILY_BUSY`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from dfos import clock
from dfos.dates import dfo_date, format_timestamp, parse_date
from dfos.errors import DfosError, ExitCode, InvalidDate
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.keys import Mode
from dfos.naming import RawName
from dfos.status.flags import StatusFlag
from dfos.status.machine import flags_by_key
from dfos.workspace import Workspace

__all__ = ["AUTO_DAILY_BUSY", "AutoDailyBusy", "AutoDailyResult", "auto_daily", "detect_new_dates",
           "request_file"]

#: Exit status of ``dfos auto-daily`` when another run holds the lock.
AUTO_DAILY_BUSY = ExitCode.AUTO_DAILY_BUSY
#: Archive nights (newest first) the detection looks at.
SCAN_NIGHTS = 3


class AutoDailyBusy(DfosError):
    exit_code = AUTO_DAILY_BUSY


@dataclass
class AutoDailyResult:
    dates: list[str] = field(default_factory=list)
    log: Path | None = None
    messages: list[str] = field(default_factory=list)


def auto_daily_dir(workspace: Workspace) -> Path:
    return workspace.mon_dir / "AUTO_DAILY"


def request_file(workspace: Workspace) -> Path:
    """Touching this file asks for a run within a minute (``dfos cron run -t autoDaily --if-requested``)."""
    return auto_daily_dir(workspace) / "force_request"


def _known_frames(workspace: Workspace) -> set[str]:
    known: set[str] = set()
    for listing in workspace.mon_dir.glob("list_hdr_*"):
        known.update(line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip())
    return known


def detect_new_dates(workspace: Workspace) -> list[date]:
    """Dates with frames in the archive's newest nights that no header intake has seen (ngasMonitor),
    plus the dates listed in ``list_data_dates``; writes that list."""
    from dfos.steps.fetch import archive_client

    client = archive_client(workspace)
    prefix = workspace.instrument.file_prefix
    known = _known_frames(workspace)
    found: set[date] = set()
    for night in client.list_dates()[-SCAN_NIGHTS:]:
        for entry in client.list_files(night):
            if entry.name in known:
                continue
            try:
                name = RawName.parse(entry.name)
            except DfosError:
                continue
            if name.prefix == prefix:
                found.add(dfo_date(name.moment, workspace.settings.DFO_OFFSET))
    listing = workspace.mon_dir / "list_data_dates"
    if listing.is_file():
        for line in listing.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(InvalidDate):
                if line.strip():
                    found.add(parse_date(line.strip()))
    dates = sorted(found)
    if dates or listing.is_file():
        write_text_atomic(listing, "".join(f"{d.isoformat()}\n" for d in dates))
    return dates


def _raw_flag(workspace: Workspace, day: date, problems: int) -> str | None:
    """raw_Complete once the night is over and every frame arrived; raw_Incomplete when some did not."""
    if day >= clock.today(workspace.settings):
        return None  # still TODAY: the night may grow
    flags = flags_by_key(workspace.status_log.read()).get(day.isoformat(), [])
    flag = StatusFlag.RAW_INCOMPLETE.value if problems else StatusFlag.RAW_COMPLETE.value
    if flag in flags:
        return None
    workspace.status_log.append(flag, day.isoformat(), clock.now(workspace.settings))
    return flag


def _close_past_nights(workspace: Workspace, pending: list[date]) -> list[str]:
    """Dates taken in while they were TODAY, now over, with nothing new left: ``raw_Complete``."""
    today = clock.today(workspace.settings)
    waiting = {d.isoformat() for d in pending}
    closed = []
    for key, flags in flags_by_key(workspace.status_log.read()).items():
        if (StatusFlag.FITS_REQUESTED.value in flags and key not in waiting and key < today.isoformat()
                and StatusFlag.RAW_COMPLETE.value not in flags and StatusFlag.RAW_INCOMPLETE.value not in flags):
            workspace.status_log.append(StatusFlag.RAW_COMPLETE.value, key, clock.now(workspace.settings))
            closed.append(key)
    return closed


@contextlib.contextmanager
def _single_run(workspace: Workspace) -> Iterator[None]:
    lock = auto_daily_dir(workspace) / ".lock"
    try:
        with exclusive_lock(lock, wait=0.0):
            write_text_atomic(lock.with_name(".lock.pid"), f"{os.getpid()}\n", durable=False)
            yield
    except BlockingIOError:
        holder = lock.with_name(".lock.pid")
        pid = holder.read_text(encoding="utf-8").strip() if holder.is_file() else "?"
        raise AutoDailyBusy(f"auto-daily is already running (pid {pid}); this one stops") from None


def auto_daily(workspace: Workspace, dates: list[date] | None = None,
               say: Callable[[str], None] | None = None) -> AutoDailyResult:
    """One autoDaily run; see the module docstring.  ``dates`` overrides the detection (``-D``)."""
    with _single_run(workspace):
        try:
            return _run(workspace, dates, say)
        except BaseException as exc:
            _failed(workspace, exc)
            raise


def _failed(workspace: Workspace, exc: BaseException) -> None:
    """The live state says the run ended with an error (:mod:`dfos.steps.auto_state`)."""
    from dfos.steps.auto_state import read_state, write_state

    before = read_state(workspace)
    why = exc.message if isinstance(exc, DfosError) else f"{type(exc).__name__}: {exc}"
    with contextlib.suppress(OSError):  # the run's own error is what the caller must see
        write_state(workspace, "failed", before.started, format_timestamp(clock.now(workspace.settings)),
                    f"{before.step}: {why}", workspace.root / before.log if before.log else None)


def _run(workspace: Workspace, dates: list[date] | None, say: Callable[[str], None] | None) -> AutoDailyResult:
    from dfos.steps.headers import extract_headers
    from dfos.steps.run_mode import run_mode
    from dfos.steps.trend import health_report

    settings = workspace.settings
    result = AutoDailyResult()
    folder = auto_daily_dir(workspace)
    folder.mkdir(parents=True, exist_ok=True)
    started = clock.now(settings)
    _live(workspace, "running", started, "looking for new data", None, None)
    todo = dates if dates is not None else detect_new_dates(workspace)
    lines: list[str] = []

    def note(message: str) -> None:
        stamped = f"{format_timestamp(clock.now(settings))} {message}"
        lines.append(stamped)
        result.messages.append(message)
        if say:
            say(message)
        _live(workspace, "running", started, message, result.log, lines)

    closed = _close_past_nights(workspace, todo)
    if closed:
        note("night over, every frame arrived: raw_Complete for " + ", ".join(closed))
    if not todo:
        note("nothing new")
    else:
        result.log = folder / f"auto_daily_{started.strftime('%Y%m%dT%H%M%S')}_{os.getpid()}.log"
    for day in todo:
        key = day.isoformat()
        note(f"{key}: header intake")
        intake = extract_headers(workspace, day)
        flag = _raw_flag(workspace, day, len(intake.problems))
        note(f"{key}: {len(intake.frames)} frames ({intake.written} new headers)" + (f", {flag}" if flag else ""))
        processed = [run_mode(workspace, day, mode, note) for mode in (Mode.CALIB, Mode.SCIENCE)]
        if any(processed):
            result.dates.append(key)
    if todo:
        lights = health_report(workspace)
        note("health check: " + (", ".join(f"{i.label} {i.light}" for i in lights) or "no key trends yet"))
        listing = workspace.mon_dir / "list_data_dates"
        if listing.is_file():
            left = [line for line in listing.read_text(encoding="utf-8").splitlines()
                    if line.strip() and line.strip() not in result.dates]
            write_text_atomic(listing, "".join(f"{line}\n" for line in left))
    if result.log is not None:
        write_text_atomic(result.log, "\n".join(lines) + "\n", durable=False)
    write_text_atomic(folder / "last_run", format_timestamp(started) + "\n")
    _live(workspace, "idle", started, result.messages[-1] if result.messages else "", result.log, None)
    return result


def _live(workspace: Workspace, state: str, started: datetime, step: str, log: Path | None,
          lines: list[str] | None) -> None:
    """The live state at each step, and the log so far (the monitor links to it while the run goes on)."""
    from dfos.steps.auto_state import write_state

    with contextlib.suppress(OSError):  # advisory: a full disk here must not stop the processing
        if log is not None and lines is not None:
            write_text_atomic(log, "\n".join(lines) + "\n", durable=False)
        write_state(workspace, state, format_timestamp(started), format_timestamp(clock.now(workspace.settings)),
                    step, log)

