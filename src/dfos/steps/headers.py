"""Header intake (DFOS dataLoader -t h): archive frames of a date to ``$DFO_HDR_DIR/DATE/*.hdr``.

Writes one ``.hdr`` per raw frame of the workspace's instrument, the list
``$DFO_MON_DIR/list_hdr_<DATE>``, creates ``$DFO_RAW_DIR/<DATE>`` and appends
``fits_Requested`` the first time a date is seen.  Re-running it changes only
what changed.  A frame whose header cannot be read (an unparsable card such as
``EXPTIME = NaN``, a number that is not finite) or whose ``ARCFILE`` is not a safe
file name (``../../etc/passwd``: names from data are never paths) is refused with
a warning naming it, and listed in ``$DFO_MON_DIR/headers_<DATE>.log``; the rest of
the night goes on.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from astropy.io import fits
from astropy.io.fits.verify import VerifyError
from astropy.utils.exceptions import AstropyWarning

from dfos import clock
from dfos.archive.client import TransferError
from dfos.dates import night_bounds
from dfos.errors import FormatError, NotFound
from dfos.fsutil import write_text_atomic
from dfos.headers.dating import FrameTime, assign_dates
from dfos.headers.io import card_pairs, write_hdr
from dfos.headers.keywords import to_fits
from dfos.naming import confined, safe_name
from dfos.status.flags import StatusFlag
from dfos.steps.fetch import archive_client
from dfos.workspace import Workspace

__all__ = ["TEMPLATE_REACH", "HeaderIntake", "extract_headers", "intake_log", "parse_header"]

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
    """(file name, reason) for frames that were skipped (refused, or not transferred)."""
    log: Path | None = None
    """``$DFO_MON_DIR/headers_<DATE>.log``: what was refused and why."""


def intake_log(workspace: Workspace, day: date) -> Path:
    """``$DFO_MON_DIR/headers_<DATE>.log``: the frames of a date the last header intake refused, and why."""
    return workspace.mon_dir / f"headers_{day.isoformat()}.log"


def extract_headers(workspace: Workspace, day: date, progress: Progress | None = None) -> HeaderIntake:
    """Extract the headers of every archive frame of ``day``; see the module docstring."""
    settings = workspace.settings
    client = archive_client(workspace)
    start, end = night_bounds(day, settings.DFO_OFFSET)
    prefix = workspace.instrument.file_prefix
    nearby = client.frames_between(start - TEMPLATE_REACH, end + TEMPLATE_REACH, prefix)
    if not any(start <= f.moment < end for f in nearby):  # documented: exit 2 (docs/processing.md)
        where = settings.ARCHIVE_URL or workspace.archive_dir
        raise NotFound(
            f"no {prefix} frames of {day} in the archive {where}; "
            f"check the date, or create a synthetic night with 'dfos demo-data --date {day}'"
        )

    headers: dict[str, fits.Header] = {}
    problems: list[tuple[str, str]] = []
    refused: list[str] = []
    for done, frame in enumerate(nearby, start=1):
        try:
            headers[frame.name] = parse_header(frame.name, client.fetch_header(frame.name))
        except (FormatError, TransferError) as exc:
            if start <= frame.moment < end:
                reason = exc.message.removeprefix(f"{frame.name}: ")
                problems.append((frame.name, reason))
                if not isinstance(exc, TransferError):
                    refused.append(frame.name)
                log.warning("%s: refused: %s", frame.name, reason)
        if progress:
            progress(done, len(nearby))

    readable = [f for f in nearby if f.name in headers]
    dating = assign_dates(
        (FrameTime(f.name, f.moment, _template(headers[f.name])) for f in readable), settings.DFO_OFFSET
    )
    mine = [f for f in readable if dating[f.name] == day]
    log_path = intake_log(workspace, day)
    write_text_atomic(log_path, _log_text(day, len(mine), problems))
    if not mine:
        raise FormatError(f"no readable frame belongs to {day} (see the warnings above and {log_path}); "
                          "nothing extracted")

    header_dir = workspace.hdr_dir / day.isoformat()
    header_dir.mkdir(parents=True, exist_ok=True)
    for name in [f.name for f in readable if dating[f.name] != day] + refused:
        # a frame moved to another date by its template, or refused now, leaves no stale header here
        _hdr_path(header_dir, name).unlink(missing_ok=True)
    written = sum(write_hdr(_hdr_path(header_dir, f.name), headers[f.name]) for f in mine)

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
        log=log_path,
    )


def _hdr_path(header_dir: Path, name: str) -> Path:
    """Where the header of the archive frame ``name`` goes (the archive's names are safe; checked again)."""
    stem = safe_name(name, "archive file name").removesuffix(".fits")
    return confined(header_dir / (stem + ".hdr"), header_dir)


def _log_text(day: date, kept: int, problems: list[tuple[str, str]]) -> str:
    lines = [f"# header intake of {day}", f"frames: {kept} extracted, {len(problems)} refused"]
    lines += [f"REFUSED {name}: {reason}" for name, reason in problems]
    return "\n".join(lines) + "\n"


def parse_header(name: str, data: bytes) -> fits.Header:
    """A primary header fetched from the archive, as an astropy header.

    FormatError naming the frame when it is unreadable: not FITS cards, a card whose value cannot be
    parsed or is not a finite number, or an ``ARCFILE`` that is not a safe file name (createAB names
    the frame's ABs after it).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            header = fits.Header.fromstring(data.decode("ascii", errors="replace"))
    except (ValueError, UnicodeError, VerifyError) as exc:
        raise FormatError(f"{name}: not a readable FITS header ({exc})") from None
    pairs = card_pairs(header, name)
    arcfile = next((value for keyword, value in pairs if keyword == "ARCFILE"), None)
    if arcfile is not None:
        safe_name(str(arcfile), f"ARCFILE of {name}")
    return header


def _template(header: fits.Header) -> str | None:
    value = header.get(to_fits("TPL.START"))
    return str(value) if value else None
