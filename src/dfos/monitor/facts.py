"""What the dfoMonitor page shows, gathered from the workspace (fast parts) and from background
caches (slow parts: disk scans, the archive probe, the crontab, program versions).

Every function returns plain data; the templates only lay it out.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dfos import clock
from dfos.archive.client import TransferError
from dfos.dates import dfo_date, format_timestamp
from dfos.errors import DfosError
from dfos.executors.registry import label as executor_label
from dfos.jobs.todo import pending_commands
from dfos.keys import BatchId, Mode
from dfos.monitor.abmonitor import address
from dfos.monitor.background import Cached
from dfos.monitor.honest import file_moment
from dfos.monitor.queries import newest_run
from dfos.status.machine import DateView
from dfos.steps.fetch import archive_client
from dfos.steps.headers import parse_header
from dfos.steps.ingest import ingest_list
from dfos.steps.status import date_table
from dfos.workspace import Workspace

__all__ = ["TODO_LISTS", "XDM_DIRS", "DateRow", "MonitorFacts", "Todo", "ab_count_in_dir", "archive_probe",
           "classify_crontab", "cron_checks", "date_rows", "installation", "last_abs", "link_bar", "todo_lists",
           "xdm_scan"]

#: The ToDo job files dfoMonitor manages, in display order.
TODO_LISTS = ("JOBS_NIGHT", "JOBS_INGEST", "JOBS_CLEANUP")
#: The XDM rows: label -> configuration key of the directory.
XDM_DIRS = {"RAW": "DFO_RAW_DIR", "HDR": "DFO_HDR_DIR", "CAL": "DFO_CAL_DIR", "LOG": "DFO_LOG_DIR",
            "PLT": "DFO_PLT_DIR", "LST": "DFO_LST_DIR"}
#: Ages above this are red (last created AB, last autoDaily).
STALE_HOURS = 6.0


def _du(path: Path) -> int:
    """Bytes under a directory (like ``du -s``; symlinks not followed, each inode once)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * 512
    return total


def xdm_scan(workspace: Workspace) -> dict[str, Any]:
    """The extended disk space monitor: bytes per standard directory, the rest, free, the quota."""
    if workspace.settings.FLAVOUR.value == "opshub":  # DFOS disables the XDM on the OPSHUB: 'du' is too slow there
        return {"error": "the XDM is disabled on the OPSHUB"}
    usage = shutil.disk_usage(workspace.root)
    quota = workspace.settings.DATA_QUOTA
    allowed = usage.total * quota / 100.0
    rows = [(label, _du(workspace.path(key))) for label, key in XDM_DIRS.items()]
    other = max(_du(workspace.root) - sum(size for _, size in rows), 0)
    used = usage.total - usage.free
    return {"total": usage.total, "allowed": allowed, "quota": quota, "free": usage.free, "used": used,
            "percent": 100.0 * used / allowed if allowed else 100.0,
            "rows": [*rows, ("OTH", other)], "red": used > 0.8 * allowed}


def archive_probe(workspace: Workspace) -> dict[str, Any]:
    """Archive health: the archive answers, and the oldest CALIB frame taken 1 to 72 h ago that has
    not reached this workspace's headers (the seed's 'longest CALIB delay')."""
    client = archive_client(workspace)
    now = clock.now(workspace.settings)
    if not workspace.settings.ARCHIVE_URL and not workspace.archive_dir.is_dir():
        return {"ok": False, "message": f"archive {workspace.archive_dir} is not reachable"}
    try:
        frames = client.frames_between(now - timedelta(hours=72), now - timedelta(hours=1))
    except (TransferError, OSError) as exc:
        where = workspace.settings.ARCHIVE_URL or workspace.archive_dir
        return {"ok": False, "message": f"archive {where} is not reachable ({exc})"}
    delayed = []
    for frame in frames:
        day = dfo_date(frame.moment, workspace.settings.DFO_OFFSET)
        if (workspace.hdr_dir / day.isoformat() / (frame.name.removesuffix(".fits") + ".hdr")).is_file():
            continue
        try:
            catg = str(parse_header(frame.name, client.fetch_header(frame.name)).get("HIERARCH ESO DPR CATG", ""))
        except (TransferError, DfosError):
            continue
        if catg == "CALIB":
            delayed.append(frame)
    if not delayed:
        return {"ok": True, "message": "no CALIB frame delayed by more than 1 h"}
    oldest = delayed[0]
    hours = (now - oldest.moment).total_seconds() / 3600
    return {"ok": False, "message": f"longest CALIB delay: {oldest.name} ({hours:.1f} h)"}


def cron_checks() -> dict[str, Any]:
    """Is autoDaily in the crontab, and are the trend jobs (``dfos health`` / ``dfos trend``)?"""
    crontab = shutil.which("crontab")
    if crontab is None:
        return {"available": False, "autodaily": None, "trends": None, "lines": []}
    done = subprocess.run([crontab, "-l"], capture_output=True, text=True, timeout=10, check=False)
    return {"available": True, **classify_crontab(done.stdout)}


def classify_crontab(text: str) -> dict[str, Any]:
    """The crontab's active lines, and those that run autoDaily and the trend (health) job."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return {"lines": lines,
            "autodaily": next((line for line in lines if re.search(r"\bdfos\b.*\bauto-?daily\b", line, re.I)), None),
            "trends": next((line for line in lines if re.search(r"\bdfos\b.*\b(health|trend)\b", line)), None)}


def installation(workspace: Workspace) -> dict[str, Any]:
    """Executor, esorex and pipeline versions (esorex asked once; cached by the caller)."""
    esorex = shutil.which(workspace.settings.ESOREX)
    version = ""
    if esorex:
        try:
            done = subprocess.run([esorex, "--version"], capture_output=True, text=True, timeout=20, check=False)
            found = re.search(r"esorex\s+\(.*?\)\s+([\d.]+)", done.stdout) or re.search(r"([\d]+\.[\d.]+)", done.stdout)
            version = found[1] if found else ""
        except (OSError, subprocess.TimeoutExpired):
            version = ""
    pipeline = workspace.instrument.pipeline
    plugins = sorted(Path(p).name for p in glob.glob(f"/usr/lib/*/cpl/plugins/{pipeline}-*"))
    executor = executor_label(workspace.settings.EXECUTOR)
    return {"drs_type": workspace.settings.DRS_TYPE, "executor": executor,
            "esorex": esorex or "", "esorex_version": version, "pipelines": plugins,
            "qcbqs_type": workspace.settings.QCBQS_TYPE}


def ab_count_in_dir(workspace: Workspace) -> int:
    try:
        return sum(1 for entry in os.scandir(workspace.ab_dir) if entry.name.endswith(".ab"))
    except FileNotFoundError:
        return 0


def _age_hours(moment: datetime, now: datetime) -> float:
    return max((now - moment).total_seconds() / 3600, 0.0)


def _ended_age(text: str, now: datetime) -> float | None:
    try:
        return _age_hours(datetime.fromisoformat(text), now)
    except ValueError:
        return None


def last_abs(workspace: Workspace) -> dict[str, Any]:
    """The last created AB (``LAST_AB``), the last processed one (``ab_runs``), the last autoDaily."""
    now = clock.now(workspace.settings)
    found: dict[str, Any] = {"created": None, "processed": None, "autodaily": None}
    last = workspace.mon_dir / "LAST_AB"
    if last.is_file():
        stamp = file_moment(last.stat().st_mtime, now, clock.system_now())  # one clock: dfos' (docs/monitor.md)
        found["created"] = {"name": last.read_text(encoding="utf-8", errors="replace").strip(),
                            "at": format_timestamp(stamp), "age_h": _age_hours(stamp, now)}
    newest = newest_run(workspace)
    if newest is not None:
        found["processed"] = {"name": newest.ab, "ended": newest.ended, "status": newest.status,
                              "age_h": _ended_age(str(newest.ended), now)}
    watcher = workspace.mon_dir / "AUTO_DAILY" / "last_run"
    if watcher.is_file():
        text = watcher.read_text(encoding="utf-8").strip()
        try:
            found["autodaily"] = {"at": text, "age_h": _age_hours(datetime.fromisoformat(text), now)}
        except ValueError:
            found["autodaily"] = {"at": text, "age_h": None}
    for item in found.values():
        if isinstance(item, dict) and item.get("age_h") is not None:
            item["red"] = item["age_h"] > STALE_HOURS
    return found


@dataclass(frozen=True)
class Todo:
    name: str
    path: Path
    exists: bool
    pending: int
    """Command lines in it (not comments, so not blocks that ran; not its header)."""


def todo_lists(workspace: Workspace) -> list[Todo]:
    found = []
    for name in TODO_LISTS:
        path = workspace.job_dir / name
        # blocks that ran are commented out (dfos.jobs.todo): a ToDo list whose blocks all ran is not pending
        pending = pending_commands(path.read_text(encoding="utf-8", errors="replace")) if path.is_file() else 0
        found.append(Todo(name, path, path.is_file(), pending))
    return found


def link_bar(text: str) -> list[dict[str, str]]:
    """MONITOR_LINKS: ``LABEL|TITLE|URL`` entries, ``BREAK`` and ``SPACE``, separated by ``;``."""
    items: list[dict[str, str]] = []
    for raw in text.split(";"):
        entry = raw.strip()
        if entry in ("BREAK", "SPACE"):
            items.append({"kind": entry.lower()})
        elif entry.count("|") == 2:
            label, title, url = (part.strip() for part in entry.split("|"))
            if url.startswith(("http://", "https://", "/")):
                items.append({"kind": "link", "label": label.replace("_", " "), "title": title.replace("_", " "),
                              "url": url})
    return items


@dataclass(frozen=True)
class DateRow:
    view: DateView
    key: str
    n_cal_abs: int | None
    """ABs in the CALIB AB list (None: no list)."""
    n_sci_abs: int | None
    """ABs in the SCIENCE AB list ``AB_list_SCIENCE_<DATE>`` (None: no list)."""
    vcal: bool
    mcal: bool
    ingested: bool
    filtered: int
    """Frames filterRaw listed (``$DFO_LST_DIR/filt_<INSTR>_<DATE>.txt``)."""

    def address(self, mode: str) -> str:
        """Where the AB monitor and the certify page of ``mode`` of this date are (``SCIENCE_2013-02-12``)."""
        return address(BatchId.of(mode, self.view.date))


def dates_state(rows: list[DateRow]) -> str:
    """A short fingerprint of what the date table shows (per date: steps offered, last flag, AB count).

    The page carries the fingerprint it was drawn with and ``/api/dates`` the current one, so the
    browser reloads when they differ, even for a change that landed between drawing and the first poll.
    """
    shown = [[r.view.date.isoformat(), r.view.steps(), r.view.last_flag, r.n_cal_abs, r.n_sci_abs] for r in rows]
    return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()[:16]


def date_rows(workspace: Workspace) -> tuple[str, list[DateRow]]:
    """TODAY and the date table rows with the monitor's extra columns."""
    table = date_table(workspace)
    instrument = workspace.settings.INSTRUMENT
    rows = []
    for view in table.rows:
        key = view.date.isoformat()
        filt = workspace.lst_dir / f"filt_{instrument}_{key}.txt"
        filtered = 0
        if filt.is_file():
            text = filt.read_text(encoding="utf-8", errors="replace")
            filtered = sum(1 for line in text.splitlines() if line.strip())
        n_cal, n_sci = view.extra.get("n_cal_abs"), view.extra.get("n_sci_abs")
        rows.append(DateRow(view, key, n_cal if isinstance(n_cal, int) else None,
                            n_sci if isinstance(n_sci, int) else None,
                            (workspace.vcal_dir / key).is_dir(), (workspace.mcal_dir / key).is_dir(),
                            ingest_list(workspace, Mode.CALIB, view.date).is_file(), filtered))
    return table.today.isoformat(), rows


@dataclass
class MonitorFacts:
    """The background caches of one monitor server."""

    xdm: Cached
    archive: Cached
    cron: Cached
    install: Cached
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> MonitorFacts:
        return cls(xdm=Cached(lambda: xdm_scan(workspace), ttl=300.0),
                   archive=Cached(lambda: archive_probe(workspace), ttl=120.0, timeout=60.0),
                   cron=Cached(cron_checks, ttl=300.0),
                   install=Cached(lambda: installation(workspace), ttl=3600.0))


def now_text(workspace: Workspace) -> str:
    return format_timestamp(clock.now(workspace.settings))

