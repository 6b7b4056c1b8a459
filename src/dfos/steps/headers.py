"""Header intake (DFOS dataLoader -t h): archive frames of a date to ``$DFO_HDR_DIR/DATE/*.hdr``.

Writes one ``.hdr`` per raw frame, the list ``$DFO_MON_DIR/list_hdr_<DATE>``,
creates ``$DFO_RAW_DIR/<DATE>`` and appends ``fits_Requested`` the first time
a date is seen.  Re-running it changes only what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from astropy.io import fits

from dfos import clock
from dfos.archive.local import LocalArchive
from dfos.dates import night_bounds
from dfos.errors import DfosError
from dfos.fsutil import write_text_atomic
from dfos.headers.dating import FrameTime, assign_dates
from dfos.headers.io import fits_primary_header, write_hdr
from dfos.status.flags import StatusFlag
from dfos.workspace import Workspace

__all__ = ["TEMPLATE_REACH", "HeaderIntake", "extract_headers"]

#: How far beyond a date boundary a template may reach; frames further away are not read for dating.
TEMPLATE_REACH = timedelta(hours=6)

#: Progress callback: (frames done, frames in all).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class HeaderIntake:
    """What one header intake did."""

    date: date
    frames: tuple[str, ...]
    """ARCFILE names of the date, oldest first."""
    written: int
    """.hdr files written or rewritten."""
    unchanged: int
    """.hdr files that already held the header."""
    first_time: bool
    """Whether fits_Requested was appended by this run."""
    header_dir: Path


def extract_headers(workspace: Workspace, day: date, progress: Progress | None = None) -> HeaderIntake:
    """Extract the headers of every archive frame of ``day``; see the module docstring."""
    settings = workspace.settings
    archive = LocalArchive(workspace.archive_dir)
    start, end = night_bounds(day, settings.DFO_OFFSET)
    nearby = archive.files_between(start - TEMPLATE_REACH, end + TEMPLATE_REACH)
    if not any(start <= f.moment < end for f in nearby):
        raise DfosError(
            f"no raw frames of {day} in the archive {workspace.archive_dir}; "
            f"check the date, or create a synthetic night with 'dfos demo-data --date {day}'"
        )

    headers: dict[str, fits.Header] = {}
    total = len(nearby)
    for done, frame in enumerate(nearby, start=1):
        headers[frame.name] = fits_primary_header(frame.path)
        if progress:
            progress(done, total)

    dating = assign_dates(
        (FrameTime(f.name, f.moment, _template(headers[f.name])) for f in nearby), settings.DFO_OFFSET
    )
    mine = [f for f in nearby if dating[f.name] == day]
    if not mine:
        raise DfosError(f"every frame of {day} belongs to a template of the next date; nothing to do for {day}")

    header_dir = workspace.hdr_dir / day.isoformat()
    header_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for frame in mine:
        if write_hdr(header_dir / (Path(frame.name).stem + ".hdr"), headers[frame.name]):
            written += 1

    names = tuple(f.name for f in mine)
    write_text_atomic(workspace.mon_dir / f"list_hdr_{day.isoformat()}", "".join(n + "\n" for n in names))
    (workspace.raw_dir / day.isoformat()).mkdir(parents=True, exist_ok=True)
    first = workspace.status_log.append_if_absent(
        StatusFlag.FITS_REQUESTED.value, day.isoformat(), clock.now(settings)
    )
    return HeaderIntake(
        date=day,
        frames=names,
        written=written,
        unchanged=len(mine) - written,
        first_time=first,
        header_dir=header_dir,
    )


def _template(header: fits.Header) -> str | None:
    value = header.get("HIERARCH ESO TPL START")
    return str(value) if value else None
