"""The data transfer checks of the dfoMonitor's transfer panel, and its two queries (``dfos transfer``).

A frame has *arrived* when its header is in ``$DFO_HDR_DIR/<DATE>`` (the header intake took it in);
until then it is *pending*, delayed by the time since its exposure started (on the workspace's clock,
``NOW``).  The panel's two lines (the seed's transferWatcher): the longest delay of a CALIB frame, and
the longest delay of a frame of any DPR.CATG, among frames taken 1 to 72 hours ago (shorter delays
are normal, longer ones are old gaps rather than transfer trouble).  Only the CALIB line turns the
panel red.

The queries list one DFO date's frames in the archive: ``pending`` (the red button: every frame not
arrived, with its category and delay), ``arrived`` (the green button: every frame here, with its
category), or ``all``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from dfos import clock
from dfos.archive.client import ArchiveClient, ArchiveFrame, TransferError
from dfos.dates import dfo_date, format_timestamp
from dfos.errors import DfosError, UsageError
from dfos.workspace import Workspace

__all__ = ["QUERIES", "TransferRow", "longest_delays", "query_date"]

QUERIES = ("pending", "arrived", "all")
#: The window of the delay lines (hours after the exposure start).
LOW_HOURS, HIGH_HOURS = 1.0, 72.0


@dataclass(frozen=True)
class TransferRow:
    name: str
    catg: str
    taken: str
    arrived: bool
    delay_h: float
    """Hours since the exposure started (the delay of a pending frame)."""


def _header_path(workspace: Workspace, frame: ArchiveFrame) -> Path:
    day = dfo_date(frame.moment, workspace.settings.DFO_OFFSET)
    return workspace.hdr_dir / day.isoformat() / (frame.name.removesuffix(".fits") + ".hdr")


def _catg(workspace: Workspace, client: ArchiveClient, frame: ArchiveFrame, arrived: bool) -> str:
    """DPR.CATG of a frame: from its header here, else from the archive ('?' when unreadable)."""
    from dfos.headers.io import read_header
    from dfos.steps.headers import parse_header

    try:
        if arrived:
            return read_header(_header_path(workspace, frame)).text("DPR.CATG", "?")
        return str(parse_header(frame.name, client.fetch_header(frame.name)).get("HIERARCH ESO DPR CATG", "?"))
    except (TransferError, DfosError, OSError, ValueError):
        return "?"


def _rows(workspace: Workspace, client: ArchiveClient, frames: list[ArchiveFrame], now: datetime,
          which: str) -> list[TransferRow]:
    rows = []
    for frame in frames:
        arrived = _header_path(workspace, frame).is_file()
        if (which == "pending" and arrived) or (which == "arrived" and not arrived):
            continue
        rows.append(TransferRow(frame.name, _catg(workspace, client, frame, arrived), format_timestamp(frame.moment),
                                arrived, (now - frame.moment).total_seconds() / 3600))
    return rows


def query_date(workspace: Workspace, day: date, which: str = "pending") -> list[TransferRow]:
    """The archive's frames of DFO date ``day``: pending, arrived or all (see the module docstring)."""
    from dfos.steps.fetch import archive_client

    if which not in QUERIES:
        raise UsageError(f"query must be one of {', '.join(QUERIES)}, not {which[:40]!r}")
    offset = timedelta(hours=workspace.settings.DFO_OFFSET)
    start = datetime(day.year, day.month, day.day, 12) + offset
    client = archive_client(workspace)
    frames = client.frames_between(start, start + timedelta(days=1), workspace.instrument.file_prefix)
    return _rows(workspace, client, frames, clock.now(workspace.settings), which)


def longest_delays(workspace: Workspace) -> dict[str, object]:
    """The panel's lines: the longest pending CALIB frame and the longest pending frame of any category,
    among frames taken 1 to 72 h ago."""
    from dfos.steps.fetch import archive_client

    client = archive_client(workspace)
    now = clock.now(workspace.settings)
    frames = client.frames_between(now - timedelta(hours=HIGH_HOURS), now - timedelta(hours=LOW_HOURS),
                                   workspace.instrument.file_prefix)
    pending = _rows(workspace, client, frames, now, "pending")
    calib = [r for r in pending if r.catg == "CALIB"]
    return {"calib": calib[0] if calib else None, "any": pending[0] if pending else None,
            "pending": len(pending), "frames": len(frames)}
