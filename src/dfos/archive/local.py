"""The embedded local archive: raw frames stored by archive night, standing in for NGAS.

Layout: ``$ARCHIVE_DIR/<YYYY-MM-DD>/<ARCFILE>``, where the directory is the
night of the frame under the plain 12:00 UT rule (the archive knows nothing of
a workspace's ``DFO_OFFSET``).  Queries by DFO date look into the neighbouring
nights too, so any offset works.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from dfos.dates import dfo_date, night_bounds
from dfos.errors import FormatError
from dfos.naming import RawName

__all__ = ["ArchiveFile", "LocalArchive"]


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

    def nights(self) -> list[date]:
        """Archive nights that hold at least one directory entry."""
        found = []
        if self.root.is_dir():
            for entry in self.root.iterdir():
                try:
                    found.append(date.fromisoformat(entry.name))
                except ValueError:
                    continue
        return sorted(found)

    def files_between(self, start: datetime, end: datetime) -> list[ArchiveFile]:
        """Frames whose exposure starts in ``[start, end)``, oldest first."""
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
                        moment = RawName.parse(entry.name).moment
                    except FormatError:
                        continue
                    if start <= moment < end:
                        found.append(ArchiveFile(entry.name, entry, moment))
            night += timedelta(days=1)
        return sorted(found, key=lambda f: (f.moment, f.name))

    def files_of_date(self, day: date, offset_hours: float = 0.0) -> list[ArchiveFile]:
        """Frames whose exposure start falls in the DFO date ``day``."""
        start, end = night_bounds(day, offset_hours)
        return self.files_between(start, end)
