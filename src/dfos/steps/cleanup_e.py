"""``dfos cleanup -E`` (DFOS cleanupProducts -E): FITS files under the workspace that should no longer be on disk.

After a move to a new installation (docs/migration.md) FITS stay in the archive; on disk they only take room.
Three kinds are found (:func:`find_candidates`), each with its size and why:

* **ingested**: a certified product of a finished date in ``$DFO_CAL_DIR/<DATE>`` or ``$DFO_SCI_DIR/<DATE>``
  that the archive catalog holds under its name.  Removing it replaces it by its ``.hdr`` header, as
  ``dfos cleanup -d DATE`` does (the calibration memory and ``finish`` look for the header);
* **raw**: a raw frame of a finished date in ``$DFO_RAW_DIR/<DATE>`` that the archive holds;
* **stray**: a FITS file where no FITS belongs: ``$DFO_LOG_DIR``, ``$DFO_LST_DIR``, ``$DFO_MON_DIR``,
  ``$DFO_JOB_DIR``, ``$DFO_CONFIG_DIR``, ``$DFO_HDR_DIR``, ``$DFO_PLT_DIR``, ``$DFO_AB_DIR`` (outside its
  ``.work``), the root itself, any other folder of the root; and product or raw folders that are no date.

Never found, never touched: the archive (``$DFO_ARCHIVE_DIR``), the static calibrations (``$DFO_CAL_DIR/GEN``,
DFOS ``GEN_CALDIR``), the calibration memory (``MCAL``, ``VCAL``), working products (``$DFS_PRODUCT``, the
recipes' ``$DFO_AB_DIR/.work``), anything of a date that is not finished, symbolic links.

Nothing is removed unless asked (:func:`remove_candidates`, ``--apply``), and then only a file whose bytes the
archive holds: the local sha256 must equal the archive's checksum of the same file (the catalog's, verified
against the archived copy; for a raw frame the archive's listing with checksums).  A file the archive does not
hold, or holds with other bytes, is kept and said why.  Each file is decided alone: a kill leaves every file
either there or removed after its check (a product's header is written before its FITS goes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from dfos.dates import dfo_date, parse_date
from dfos.errors import DfosError, FormatError, InvalidDate
from dfos.headers.io import read_hdr_file, write_hdr
from dfos.naming import RawName
from dfos.status.flags import StatusFlag
from dfos.status.machine import flags_by_key
from dfos.steps.fetch import archive_client
from dfos.steps.ingest import WorkspaceArchive
from dfos.steps.safe_move import sha256
from dfos.steps.static_calib import gen_dir
from dfos.workspace import DIRECTORY_KEYS, Workspace

__all__ = ["INGESTED", "RAW", "STRAY", "Candidate", "Removal", "find_candidates", "remove_candidates"]

INGESTED, RAW, STRAY = "ingested", "raw", "stray"
_FITS = (".fits", ".fits.fz", ".fits.gz", ".fit")


@dataclass(frozen=True)
class Candidate:
    path: Path
    size: int
    kind: str
    """ingested | raw | stray"""
    why: str
    """One line: why the file should not be on disk."""
    archived: bool
    """The archive lists a file of this name (its checksum is compared only when removing)."""


@dataclass(frozen=True)
class Removal:
    removed: tuple[Candidate, ...]
    kept: tuple[tuple[Candidate, str], ...]
    """Each file kept, with why (not in the archive, other bytes, ...)."""


def _is_fits(path: Path) -> bool:
    return path.name.lower().endswith(_FITS)


def _fits_under(folder: Path, skip: set[Path]) -> Iterator[Path]:
    """Every FITS file under ``folder`` (no symbolic link followed or listed), ``skip`` folders left out."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for top, dirs, files in os.walk(folder):
        here = Path(top)
        dirs[:] = sorted(d for d in dirs if here / d not in skip and not (here / d).is_symlink())
        for name in sorted(files):
            path = here / name
            if _is_fits(path) and not path.is_symlink() and path.is_file():
                yield path


def _finished(workspace: Workspace) -> set[str]:
    return {key for key, flags in flags_by_key(workspace.status_log.read()).items()
            if StatusFlag.FINISHED.value in flags}


def _date_of(folder: Path) -> date | None:
    try:
        return parse_date(folder.name)
    except InvalidDate:
        return None


class _Archive:
    """What the archive holds: the catalog of certified products, the listing of raw nights (read once each)."""

    def __init__(self, workspace: Workspace) -> None:
        self.catalog = WorkspaceArchive(workspace)
        self.workspace = workspace
        self.nights: dict[tuple[date, bool], dict[str, str | None]] = {}

    def _night(self, name: str) -> date | None:
        try:
            return dfo_date(RawName.parse(name).moment)  # archive nights: the plain 12:00 UT rule
        except (FormatError, DfosError):
            return None

    def raw(self, name: str, checksums: bool = False) -> dict[str, str | None] | None:
        night = self._night(name)
        if night is None:
            return None
        if (night, checksums) not in self.nights:
            listed = archive_client(self.workspace).list_files(night, checksums=checksums)
            self.nights[(night, checksums)] = {e.name: e.sha256 for e in listed}
        return self.nights[(night, checksums)]

    def holds(self, name: str) -> bool:
        """The archive lists a file of this name (a certified product, or a raw frame)."""
        if self.catalog.lookup(name) is not None:
            return True
        listed = self.raw(name)
        return listed is not None and name in listed

    def checksum(self, name: str) -> tuple[str | None, str]:
        """(the archive's verified sha256 of ``name``, or None; why not)."""
        entry = self.catalog.lookup(name)
        if entry is not None:
            if not self.catalog.verify(name):
                return None, "the archived copy no longer has its recorded checksum"
            return entry.sha256, ""
        listed = self.raw(name, checksums=True)
        if listed is None or name not in listed:
            return None, "the archive does not hold it"
        digest = listed[name]
        return (digest, "") if digest else (None, "the archive gives no checksum for it")


def _candidate(path: Path, kind: str, why: str, archive: _Archive) -> Candidate:
    return Candidate(path, path.stat().st_size, kind, why, archive.holds(path.name))


def _products(workspace: Workspace, finished: set[str], archive: _Archive) -> Iterator[Candidate]:
    for base in (workspace.cal_dir, workspace.sci_dir):
        for folder in sorted(base.iterdir()) if base.is_dir() else []:
            if not folder.is_dir() or folder.is_symlink() or _date_of(folder) is None:
                continue
            if folder.name not in finished:
                continue  # a date not finished: its products are still at work
            for path in sorted(folder.glob("*")):
                if _is_fits(path) and path.is_file() and not path.is_symlink() \
                        and archive.catalog.lookup(path.name) is not None:
                    yield _candidate(path, INGESTED, f"ingested: the archive catalog holds {path.name} "
                                                     f"({folder.name} is finished)", archive)


def _raw(workspace: Workspace, finished: set[str], archive: _Archive) -> Iterator[Candidate]:
    base = workspace.raw_dir
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        if folder.is_dir() and not folder.is_symlink() and folder.name in finished:
            for path in _fits_under(folder, set()):
                yield _candidate(path, RAW, f"a raw frame of {folder.name}, which is finished", archive)


def _kept_places(workspace: Workspace) -> set[Path]:
    """Folders the stray search never enters: the archive, the calibration memory and static calibrations,
    working products, and the folders searched for ingested products and raw frames (by date)."""
    return {workspace.archive_dir, gen_dir(workspace), workspace.mcal_dir, workspace.vcal_dir,
            workspace.path("DFS_PRODUCT"), workspace.work_root}


def _dated(workspace: Workspace) -> set[Path]:
    """Date folders of the product and raw directories (searched by :func:`_products` and :func:`_raw`)."""
    found = set()
    for base in (workspace.cal_dir, workspace.sci_dir, workspace.raw_dir):
        for folder in base.iterdir() if base.is_dir() else []:
            if folder.is_dir() and _date_of(folder) is not None:
                found.add(folder)
    return found


def _strays(workspace: Workspace, archive: _Archive) -> Iterator[Candidate]:
    skip = _kept_places(workspace) | _dated(workspace)
    named = {workspace.path(key): key for key in DIRECTORY_KEYS}
    tops = [workspace.root, *(p for p in named
                              if workspace.root not in p.parents and p != workspace.root and p not in skip)]
    seen: set[Path] = set()
    for top in tops:
        for path in _fits_under(top, skip):
            if path in seen:
                continue
            seen.add(path)
            place = next((f"${key}" for folder, key in sorted(named.items(), key=lambda kv: -len(str(kv[0])))
                          if folder in path.parents), "the workspace root")
            yield _candidate(path, STRAY, f"stray: a FITS file in {place}, where no FITS belongs", archive)


def find_candidates(workspace: Workspace) -> list[Candidate]:
    """Every FITS file under the workspace that should no longer be on disk (see the module docstring)."""
    archive = _Archive(workspace)
    finished = _finished(workspace)
    return [*_products(workspace, finished, archive), *_raw(workspace, finished, archive),
            *_strays(workspace, archive)]


def _remove(candidate: Candidate) -> str:
    """Remove a checked file (a certified product: replaced by its header); '' or why it was kept."""
    path = candidate.path
    if candidate.kind == INGESTED:
        from astropy.io import fits

        hdr = path.with_suffix(".hdr")
        write_hdr(hdr, fits.getheader(path))
        if read_hdr_file(hdr).get("HIERARCH ESO PRO CATG") is None:
            return "its header did not survive the copy into .hdr"
    path.unlink()
    return ""


def remove_candidates(workspace: Workspace, candidates: list[Candidate],
                      progress: Callable[[int, int], None] | None = None) -> Removal:
    """Remove each candidate whose bytes the archive holds (sha256 of the local file equal to the archive's,
    the archived copy verified); keep the others, saying why."""
    archive = _Archive(workspace)
    removed: list[Candidate] = []
    kept: list[tuple[Candidate, str]] = []
    for number, candidate in enumerate(candidates):
        if progress is not None:
            progress(number, len(candidates))
        if not candidate.path.is_file():
            continue  # gone meanwhile (a run before this one was killed after removing it)
        digest, why = archive.checksum(candidate.path.name)
        if digest is None:
            kept.append((candidate, why))
        elif sha256(candidate.path) != digest:
            kept.append((candidate, "the archive holds other bytes under this name (checksums differ)"))
        elif why := _remove(candidate):
            kept.append((candidate, why))
        else:
            removed.append(candidate)
    if progress is not None:
        progress(len(candidates), len(candidates))
    return Removal(tuple(removed), tuple(kept))
