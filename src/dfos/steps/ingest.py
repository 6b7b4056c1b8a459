"""ingest (DFOS ingestProducts): the certified products of a date into the archive.

Archives sit behind :class:`Ingestor`; the embedded one is the workspace archive: the file goes to
``$DFO_ARCHIVE_DIR/calib/<DATE>/<name>`` (copied, verified, renamed into place) and a row with its
SHA-256 into the ``archive_catalog`` table.  A date is ingested once: ``list_ingest_<MODE>_<DATE>.txt``
lists what went in, and a second ingest of the date, or of a file of the same name with other
bytes, is refused.  An interrupted ingest is resumed (a file already archived with the same
checksum counts as done).  The cleanup call is added to ``JOBS_CLEANUP``.
"""

from __future__ import annotations

import shlex
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from dfos import clock
from dfos.archive.local import LocalArchive
from dfos.dates import format_timestamp
from dfos.db import archive_catalog, engine_for_url
from dfos.errors import StateError, WorkspaceError
from dfos.fsutil import atomic_path, write_text_atomic
from dfos.keys import BatchId, KeyLike, Mode, Stage, mode_flag
from dfos.naming import CalibName
from dfos.status.machine import flags_by_key
from dfos.steps.move import append_job_line
from dfos.steps.safe_move import sha256
from dfos.workspace import Workspace

__all__ = ["CatalogEntry", "IngestResult", "Ingestor", "WorkspaceArchive", "ingest", "ingest_list"]


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    path: str
    sha256: str
    size: int


class Ingestor(ABC):
    """An archive that takes certified products."""

    @abstractmethod
    def ingest(self, source: Path, day: date, mode: str, ab: str, pro_catg: str) -> CatalogEntry:
        """Archive one file (idempotent for the same bytes; refuses a name it holds with other bytes)."""

    @abstractmethod
    def lookup(self, name: str) -> CatalogEntry | None:
        """What the archive holds under a name (None: nothing)."""

    @abstractmethod
    def verify(self, name: str) -> bool:
        """True when the archived copy still has its recorded checksum."""


class WorkspaceArchive(Ingestor):
    """The embedded archive: files under ``$DFO_ARCHIVE_DIR/calib`` and the ``archive_catalog`` table."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.archive = LocalArchive(workspace.archive_dir)

    def lookup(self, name: str) -> CatalogEntry | None:
        with engine_for_url(self.workspace.db_url).begin() as db:
            row = db.execute(select(archive_catalog).where(archive_catalog.c.name == name)).mappings().first()
        return CatalogEntry(row["name"], row["path"], row["sha256"], row["size"]) if row else None

    def verify(self, name: str) -> bool:
        entry = self.lookup(name)
        return entry is not None and Path(entry.path).is_file() and sha256(Path(entry.path)) == entry.sha256

    def ingest(self, source: Path, day: date, mode: str, ab: str, pro_catg: str) -> CatalogEntry:
        digest, size = sha256(source), source.stat().st_size
        known = self.lookup(source.name)
        if known is not None:
            if known.sha256 != digest:
                raise StateError(f"the archive already holds another {source.name} (ingested before): refused")
            return known
        target = self.archive.master_path(day, source.name)
        if not (target.is_file() and sha256(target) == digest):
            with atomic_path(target) as tmp:
                shutil.copyfile(source, tmp)
                if sha256(tmp) != digest:
                    raise WorkspaceError(f"the archive copy of {source.name} does not match its checksum")
        entry = CatalogEntry(source.name, str(target), digest, size)
        try:
            with engine_for_url(self.workspace.db_url).begin() as db:
                db.execute(insert(archive_catalog).values(
                    name=entry.name, path=entry.path, date=day.isoformat(), mode=mode, ab=ab, pro_catg=pro_catg,
                    size=size, sha256=digest, source=str(source),
                    ingested=format_timestamp(clock.now(self.workspace.settings))))
        except IntegrityError:  # another ingest recorded it meanwhile
            again = self.lookup(source.name)
            if again is None or again.sha256 != digest:
                raise StateError(f"the archive already holds another {source.name}: refused") from None
            return again
        return entry


@dataclass(frozen=True)
class IngestResult:
    ingested: tuple[str, ...]
    listing: Path


def ingest_list(workspace: Workspace, mode: Mode | str, key: KeyLike) -> Path:
    """``$DFO_LST_DIR/list_ingest_<MODE>_<KEY>.txt``: what an ingest put into the archive, with checksums."""
    return workspace.lst_dir / f"list_ingest_{BatchId.of(mode, key).render()}.txt"


def ingest(workspace: Workspace, mode: Mode | str, day: date, ingestor: Ingestor | None = None) -> IngestResult:
    """Ingest the certified products of a date; see the module docstring."""
    mode = Mode.parse(mode)
    key = day.isoformat()
    updated = mode_flag(mode, Stage.UPDATED)
    listing = ingest_list(workspace, mode, day)
    if listing.is_file():
        raise StateError(f"{mode} {key} is already ingested ({listing}): refused to ingest it twice")
    if updated not in flags_by_key(workspace.status_log.read()).get(key, []):
        raise StateError(f"{mode} {key} is not moved yet ('{updated}' is not in DFO_STATUS): "
                        f"run 'dfos move -m {mode} -d {key}' first")
    archive = ingestor or WorkspaceArchive(workspace)
    from astropy.io import fits

    lines = []
    names = []
    for path in sorted((workspace.cal_dir / key).glob("*.fits")):
        CalibName.parse(path.name, workspace.settings.MCAL_NAME_PATTERN)  # only certified products go in
        header = fits.getheader(path)
        entry = archive.ingest(path, day, mode.value, str(header.get("HIERARCH ESO PRO REC1 RAW1 NAME", "")),
                               str(header.get("HIERARCH ESO PRO CATG", "")))
        names.append(path.name)
        lines.append(f"{path.name} {entry.sha256} {entry.size}")
    if not names:
        raise StateError(f"no certified products in {workspace.cal_dir / key} to ingest")
    write_text_atomic(listing, "\n".join(lines) + "\n")
    dfos = shlex.quote(str(workspace.bin_dir / "dfos"))
    append_job_line(workspace, "JOBS_CLEANUP", f"{dfos} --root {shlex.quote(str(workspace.root))} cleanup -d {key}")
    return IngestResult(tuple(names), listing)
