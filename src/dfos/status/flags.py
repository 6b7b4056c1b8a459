"""DFO_STATUS lines: the workflow flags and the ``<flag> <DATE> <timestamp>`` line format.

Pure text functions; file access is in :mod:`dfos.status.log`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dfos.dates import format_timestamp, parse_date, parse_timestamp
from dfos.errors import FormatError, InvalidDate

__all__ = [
    "Malformed",
    "StatusFlag",
    "StatusLine",
    "parse_line",
    "parse_text",
    "render_line",
]


class StatusFlag(StrEnum):
    """The workflow flags of DFO_STATUS; values are the exact file tokens.

    Listed in the normal life cycle of a date.
    """

    FITS_REQUESTED = "fits_Requested"
    """The date was opened for processing (its raw directory was created)."""
    RAW_COMPLETE = "raw_Complete"
    """Every raw file the archive lists for the date has arrived."""
    RAW_INCOMPLETE = "raw_Incomplete"
    """Some raw files are missing (shown red)."""
    CAL_AB = "cal_AB"
    """CALIB ABs created (createAB)."""
    CAL_QUEUED = "cal_Queued"
    """CALIB job files written (createJob)."""
    CAL_QC = "cal_QC"
    """CALIB cascade and QC done."""
    CAL_CERTIF = "cal_Certif"
    """CALIB products certified."""
    CAL_UPDATED = "cal_Updated"
    """CALIB products moved and ABs updated."""
    SCI_AB = "sci_AB"
    """SCIENCE ABs created."""
    SCI_QUEUED = "sci_Queued"
    """SCIENCE job files written."""
    SCI_QC = "sci_QC"
    """SCIENCE cascade and QC done."""
    SCI_CERTIF = "sci_Certif"
    """SCIENCE products certified."""
    SCI_UPDATED = "sci_Updated"
    """SCIENCE products moved and ABs updated."""
    SCI_HARVESTED = "sci_Harvested"
    """SCIENCE ABs harvested."""
    CAL_RESET = "cal_Reset"
    """CALIB ABs, DONE tags and job files removed (``dfos reset``): the mode starts again from createAB."""
    SCI_RESET = "sci_Reset"
    """SCIENCE ABs, DONE tags and job files removed (``dfos reset``)."""
    FINISHED = "finished"
    """The date was closed (finishNight)."""
    REMOVED = "removed"
    """The date was removed from the monitor."""


_FLAG_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class StatusLine:
    """One DFO_STATUS event."""

    flag: str
    """The flag token; usually a :class:`StatusFlag` value."""
    key: str
    """What the flag is about: a DFO date, a pseudo-date or a project."""
    timestamp: datetime
    """When the event was written (UT)."""


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line a reader could not parse; it is skipped, never rewritten."""

    lineno: int
    """1-based line number in the file."""
    text: str
    """The line as found."""
    reason: str
    """Why it was rejected."""


def render_line(line: StatusLine) -> str:
    """Render an event as ``<flag> <DATE> <YYYY-MM-DDThh:mm:ss>`` (no newline)."""
    return f"{line.flag} {line.key} {format_timestamp(line.timestamp)}"


def parse_line(text: str) -> StatusLine:
    """Parse one line; raise :class:`FormatError` when it is not ``<flag> <key> <timestamp>``, or when its
    key is written like a date (``YYYY-MM-DD``) but is none (``2013-02-30``)."""
    parts = text.split()
    if len(parts) != 3:
        raise FormatError(f"expected '<flag> <date> <timestamp>', found {len(parts)} field(s)")
    flag, key, stamp = parts
    if not _FLAG_RE.match(flag):
        raise FormatError(f"{flag!r} is not a flag name")
    try:
        when = parse_timestamp(stamp)
        if _DATE_LIKE.match(key):
            parse_date(key)
    except InvalidDate as exc:
        raise FormatError(str(exc)) from None
    return StatusLine(flag=flag, key=key, timestamp=when)


def parse_text(text: str | Iterable[str]) -> tuple[list[StatusLine], list[Malformed]]:
    """Parse a whole DFO_STATUS; blank lines are ignored, bad ones reported."""
    lines = text.splitlines() if isinstance(text, str) else list(text)
    good: list[StatusLine] = []
    bad: list[Malformed] = []
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        try:
            good.append(parse_line(stripped))
        except FormatError as exc:
            bad.append(Malformed(lineno=number, text=raw.rstrip("\n"), reason=str(exc)))
    return good, bad
