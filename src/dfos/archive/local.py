"""The embedded local archive: raw frames stored by archive night, standing in for NGAS.

Layout: ``$DFO_ARCHIVE_DIR/<YYYY-MM-DD>/<ARCFILE>``, where the directory is the
night of the frame under the plain 12:00 UT rule (the archive knows nothing of
a workspace's ``DFO_OFFSET``).  Queries by DFO date look into the neighbouring
nights too, so any offset works.

Certified master calibrations are kept apart, by the date they certify:
``$DFO_ARCHIVE_DIR/calib/<YYYY-MM-DD>/<name>.fits``, the same date and name as in
``$DFO_CAL_DIR/<YYYY-MM-DD>`` (where only a ``.hdr`` is left once cleanupProducts
made room); mcalDown files and processAB fetch them back from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from dfos.dates import dfo_date
from dfos.errors import FormatError
from dfos.naming import RawName

__all__ = ["MASTERS", "ArchiveFile", "LocalArchive"]

#: The archive's folder of certified masters (never a date, so never mistaken for a night).
MASTERS = "calib"


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """One frame in the archive."""

    name: str
    """The ARCFILE name."""
    path: Path
    """Where the file is stored."""
    moment: datetime
    """Exposure start, from the name."""


class LocalArchive:
    """A directory of raw frames organised by archive night."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def store_path(self, name: str) -> Path:
        """Where a frame of this name is (or will be) stored."""
        moment = RawName.parse(name).moment
        return self.root / dfo_date(moment).isoformat() / name

    def master_path(self, day: date, name: str) -> Path:
        """Where the certified master ``name`` of DFO date ``day`` is (or will be) stored."""
        if "/" in name or name in ("", ".", ".."):
            raise FormatError(f"{name!r} is not a file name")
        return self.root / MASTERS / day.isoformat() / name

    def files_between(self, start: datetime, end: datetime, prefix: str | None = None) -> list[ArchiveFile]:
        """Frames whose exposure starts in ``[start, end)``, oldest first; only ``prefix`` frames if given."""
        first = dfo_date(start) - timedelta(days=1)
        last = dfo_date(end) + timedelta(days=1)
        found: list[ArchiveFile] = []
        night = first
        while night <= last:
            folder = self.root / night.isoformat()
            if folder.is_dir():
                for entry in folder.iterdir():
                    if not entry.name.endswith(".fits") or not entry.is_file():
                        continue
                    try:
                        name = RawName.parse(entry.name)
                    except FormatError:
                        continue
                    if start <= name.moment < end and prefix in (None, name.prefix):
                        found.append(ArchiveFile(entry.name, entry, name.moment))
            night += timedelta(days=1)
        return sorted(found, key=lambda f: (f.moment, f.name))
