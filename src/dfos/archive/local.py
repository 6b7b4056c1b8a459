"""The embedded local archive: raw frames stored by archive night, standing in for NGAS.

Layout: ``$DFO_ARCHIVE_DIR/<YYYY-MM-DD>/<ARCFILE>``, where the directory is the
night of the frame under the plain 12:00 UT rule (the archive knows nothing of
a workspace's ``DFO_OFFSET``).  Listing and queries by time go through
:class:`dfos.archive.client.LocalArchiveClient`, like any archive.

Certified master calibrations are kept apart, by the date they certify:
``$DFO_ARCHIVE_DIR/calib/<YYYY-MM-DD>/<name>.fits``, the same date and name as in
``$DFO_CAL_DIR/<YYYY-MM-DD>`` (where only a ``.hdr`` is left once cleanupProducts
made room); mcalDown files and processAB fetch them back from there, through the workspace's archive
client (file id ``calib/<YYYY-MM-DD>/<name>``, also over HTTP).  Certified science products are kept
the same way in ``$DFO_ARCHIVE_DIR/science/<YYYY-MM-DD>/<name>.fits`` (file id
``science/<YYYY-MM-DD>/<name>``), as in ``$DFO_SCI_DIR/<YYYY-MM-DD>``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dfos.dates import dfo_date
from dfos.errors import DfosError, FormatError
from dfos.keys import KeyLike, ProcessingKey
from dfos.naming import RawName, safe_name

__all__ = ["MASTERS", "SCIENCE", "LocalArchive", "master_id"]

#: The archive's folder of certified masters (never a date, so never mistaken for a night).
MASTERS = "calib"
#: The archive's folder of certified science products (never a date either).
SCIENCE = "science"


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
        safe_name(name, "master name")  # UnsafeName (a FormatError) for a path or anything odd
        return self.root / MASTERS / day.isoformat() / name

    def science_path(self, day: KeyLike, name: str) -> Path:
        """Where the certified science product ``name`` of processing key ``day`` (a DFO date, or a run ID in
        DEEP mode) is (or will be) stored."""
        safe_name(name, "science product name")
        return self.root / SCIENCE / ProcessingKey.of(day).text / name

    def file_path(self, file_id: str) -> Path:
        """The file an archive file id names: a raw frame's name, ``calib/<YYYY-MM-DD>/<name>`` for a
        certified master (see :func:`master_id`) or ``science/<YYYY-MM-DD>/<name>`` for a certified science
        product.  FormatError for anything else (no other path is reachable)."""
        parts = file_id.split("/")
        if len(parts) == 3 and parts[0] == SCIENCE:
            try:
                key = ProcessingKey.parse(parts[1])
            except DfosError:
                raise FormatError(f"{file_id!r}: {parts[1]!r} is not a date nor a run ID") from None
            return self.science_path(key, parts[2])
        if len(parts) == 3 and parts[0] == MASTERS:
            try:
                day = date.fromisoformat(parts[1])
            except ValueError:
                raise FormatError(f"{file_id!r}: {parts[1]!r} is not a date") from None
            return self.master_path(day, parts[2])
        if len(parts) != 1:
            raise FormatError(f"{file_id!r} is neither a raw frame, calib/<DATE>/<master> nor "
                              "science/<DATE>/<product>")
        return self.store_path(file_id)


def master_id(day: date, name: str) -> str:
    """The archive file id of a certified master: ``calib/<YYYY-MM-DD>/<name>``."""
    return f"{MASTERS}/{day.isoformat()}/{name}"
