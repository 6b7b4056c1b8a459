"""Header intake (DFOS dataLoader -t h): archive frames of a date to ``$DFO_HDR_DIR/DATE/*.hdr``.

Writes one ``.hdr`` per raw frame of the workspace's instrument, the list
``$DFO_MON_DIR/list_hdr_<DATE>``, creates ``$DFO_RAW_DIR/<DATE>`` and appends
``fits_Requested`` the first time a date is seen.  Re-running it changes only
what changed.  A frame whose header cannot be read is reported and skipped; the
rest of the night goes on.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

from dfos import clock
from dfos.archive.client import TransferError
from dfos.dates import night_bounds
from dfos.errors import FormatError, NotFound
from dfos.fsutil import write_text_atomic
from dfos.headers.dating import FrameTime, assign_dates
from dfos.headers.io import write_hdr
from dfos.headers.keywords import to_fits
from dfos.status.flags import StatusFlag
from dfos.steps.fetch import archive_client
from dfos.workspace import Workspace

__all__ = ["TEMPLATE_REACH", "HeaderIntake", "extract_headers", "parse_header"]

log = logging.getLogger(__name__)

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
    problems: tuple[tuple[str, str], ...] = ()
    """(file name, reason) for frames that were skipped."""


def extract_headers(workspace: Workspace, day: date, progress: Progress | None = None) -> HeaderIntake:
    """Extract the headers of every archive frame of ``day``; see the module docstring."""
    settings = workspace.settings
    client = archive_client(workspace)
    start, end = night_bounds(day, settings.DFO_OFFSET)
    prefix = workspace.instrument.file_prefix
    nearby = client.frames_between(start - TEMPLATE_REACH, end + TEMPLATE_REACH, prefix)
    if not any(start <= f.moment < end for f in nearby):
        where = settings.ARCHIVE_URL or workspace.archive_dir
        raise NotFound(
            f"no {prefix} frames of {day} in the archive {where}; "
            f"check the date, or create a synthetic night with 'dfos demo-data --date {day}'"
        )

    headers: dict[str, fits.Header] = {}
    problems: list[tuple[str, str]] = []
    for done, frame in enumerate(nearby, start=1):
        try:
            headers[frame.name] = parse_header(frame.name, client.fetch_header(frame.name))
        except (FormatError, TransferError) as exc:
            if start <= frame.moment < end:
                problems.append((frame.name, str(exc)))
                log.warning("%s: skipped: %s", frame.name, exc)
        if progress:
            progress(done, len(nearby))

    readable = [f for f in nearby if f.name in headers]
    dating = assign_dates(
        (FrameTime(f.name, f.moment, _template(headers[f.name])) for f in readable), settings.DFO_OFFSET
    )
    mine = [f for f in readable if dating[f.name] == day]
    if not mine:
        raise FormatError(f"no readable frame belongs to {day} (see the warnings above); nothing extracted")

    header_dir = workspace.hdr_dir / day.isoformat()
    header_dir.mkdir(parents=True, exist_ok=True)
    for frame in readable:  # a frame moved to another date by its template leaves no stale header here
        if dating[frame.name] != day:
            (header_dir / (Path(frame.name).stem + ".hdr")).unlink(missing_ok=True)
    written = sum(write_hdr(header_dir / (Path(f.name).stem + ".hdr"), headers[f.name]) for f in mine)

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
        problems=tuple(problems),
    )


def parse_header(name: str, data: bytes) -> fits.Header:
    """A primary header fetched from the archive, as an astropy header (FormatError when unreadable)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            return fits.Header.fromstring(data.decode("ascii", errors="replace"))
    except (ValueError, UnicodeError) as exc:
        raise FormatError(f"{name}: not a readable FITS header ({exc})") from None


def _template(header: fits.Header) -> str | None:
    value = header.get(to_fits("TPL.START"))
    return str(value) if value else None
