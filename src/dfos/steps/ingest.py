"""ingest (DFOS ingestProducts): the certified products of a date into the archive.

What goes in: CALIB, the FITS files of ``$DFO_CAL_DIR/<DATE>`` (each must have a certified
calibration name); SCIENCE, the FITS files of ``$DFO_SCI_DIR/<DATE>`` (each must have a certified
science name).  Nothing else (the MCAL and VCAL memory, a rejected product) is ever ingested.

Archives sit behind :class:`Ingestor`; the embedded one is the workspace archive: the file goes to
``$DFO_ARCHIVE_DIR/calib/<DATE>/<name>`` (SCIENCE: ``science/<DATE>/<name>``; copied, verified,
renamed into place) and a row with its SHA-256 into the ``archive_catalog`` table.  A date is
ingested once: ``list_ingest_<MODE>_<DATE>.txt`` lists what went in (empty when the date's move
certified nothing: every AB rejected), and a second ingest of the date, or of a file of the same name
with other bytes, is refused.  A run's products (phoenix DEEP mode, ``$DFO_SCI_DIR/<RUN_ID>``) accumulate,
target after target: its ingest may run again and again, each time archiving what is not in its list yet
(and refusing, as above, a listed name whose bytes changed), so one ``JOBS_INGEST`` line serves the run.
An interrupted ingest is resumed (a file already archived with the same checksum counts as done).
With ``ENABLE_UPDATES`` (DFOS ``config.ingestProducts``; phoenix: a re-processed IDP, a run's target moved again
with ``UPDATE_YN``) a file of an archived name with other bytes replaces the archived one, the earlier file
kept aside and the replacement logged (:meth:`WorkspaceArchive._update`).
The cleanup call is added to ``JOBS_CLEANUP``.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from dfos import clock
from dfos.archive.local import LocalArchive
from dfos.dates import format_timestamp
from dfos.db import archive_catalog, engine_for_url
from dfos.errors import StateError, WorkspaceError
from dfos.fsutil import atomic_path, exclusive_lock, write_text_atomic
from dfos.jobs.relocate import command_line
from dfos.keys import BatchId, KeyLike, Mode, ProcessingKey, Stage, mode_flag
from dfos.naming import CalibName, ScienceName
from dfos.status.machine import flags_by_key
from dfos.steps.certified_names import product_dir
from dfos.steps.certify import ACCEPT, read_evidence
from dfos.steps.move import append_job_line, mark_job_line_done
from dfos.steps.safe_move import read_text, sha256
from dfos.steps.score import latest_decisions
from dfos.workspace import Workspace

__all__ = ["CatalogEntry", "IngestResult", "Ingestor", "WorkspaceArchive", "certified_name", "ingest",
           "ingest_line_done", "ingest_list", "ingest_static"]


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    path: str
    sha256: str
    size: int
    hidden_by: str | None = None
    """The release that hides it (docs/releases.md); None: visible."""


class Ingestor(ABC):
    """An archive that takes certified products."""

    @abstractmethod
    def ingest(self, source: Path, day: KeyLike, mode: str, ab: str, pro_catg: str) -> CatalogEntry:
        """Archive one file (idempotent for the same bytes; refuses a name it holds with other bytes)."""

    @abstractmethod
    def lookup(self, name: str) -> CatalogEntry | None:
        """What the archive holds under a name (None: nothing), hidden or not."""

    @abstractmethod
    def verify(self, name: str) -> bool:
        """True when the archived copy still has its recorded checksum."""


class WorkspaceArchive(Ingestor):
    """The embedded archive: files under ``$DFO_ARCHIVE_DIR/calib`` (SCIENCE: ``science``) and the
    ``archive_catalog`` table."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.archive = LocalArchive(workspace.archive_dir)
        self.updates = workspace.settings.ENABLE_UPDATES

    def lookup(self, name: str) -> CatalogEntry | None:
        with engine_for_url(self.workspace.db_url).begin() as db:
            row = db.execute(select(archive_catalog).where(archive_catalog.c.name == name)).mappings().first()
        return CatalogEntry(row["name"], row["path"], row["sha256"], row["size"], row["hidden_by"]) if row else None

    def verify(self, name: str) -> bool:
        entry = self.lookup(name)
        return entry is not None and Path(entry.path).is_file() and sha256(Path(entry.path)) == entry.sha256

    def ingest(self, source: Path, day: KeyLike, mode: str, ab: str, pro_catg: str) -> CatalogEntry:
        digest, size = sha256(source), source.stat().st_size
        known = self.lookup(source.name)
        if known is not None:
            if known.sha256 == digest:
                return known
            if not self.updates:
                raise StateError(f"the archive already holds another {source.name} (ingested before): refused; "
                                 "ENABLE_UPDATES = true lets a new release replace it")
            return self._update(known, source, digest, size)
        if Mode.parse(mode) is Mode.SCIENCE:
            target = self.archive.science_path(day, source.name)
        else:
            target = self.archive.master_path(_date(day), source.name)
        if not (target.is_file() and sha256(target) == digest):
            with atomic_path(target) as tmp:
                shutil.copyfile(source, tmp)
                if sha256(tmp) != digest:
                    raise WorkspaceError(f"the archive copy of {source.name} does not match its checksum")
        entry = CatalogEntry(source.name, str(target), digest, size)
        try:
            with engine_for_url(self.workspace.db_url).begin() as db:
                db.execute(insert(archive_catalog).values(
                    name=entry.name, path=entry.path, date=ProcessingKey.of(day).text, mode=mode, ab=ab,
                    pro_catg=pro_catg,
                    size=size, sha256=digest, source=str(source),
                    ingested=format_timestamp(clock.now(self.workspace.settings))))
        except IntegrityError:  # another ingest recorded it meanwhile
            again = self.lookup(source.name)
            if again is None or again.sha256 != digest:
                raise StateError(f"the archive already holds another {source.name}: refused") from None
            return again
        return entry


    def _update(self, known: CatalogEntry, source: Path, digest: str, size: int) -> CatalogEntry:
        """ENABLE_UPDATES: the new bytes replace the archived ones under the same name.  The old file is kept,
        renamed to ``superseded/<first 12 digits of its SHA-256>/<name>`` in the archive, before the new one is
        copied in (verified); the catalog row takes the new checksum; ``$DFO_MON_DIR/ARCHIVE_UPDATES`` gets a
        line.  A kill in between is taken on by the next ingest (the old file aside already, or not yet)."""
        target = Path(known.path)
        kept = self.archive.root / "superseded" / known.sha256[:12] / known.name
        if target.is_file() and sha256(target) == known.sha256:
            kept.parent.mkdir(parents=True, exist_ok=True)
            target.replace(kept)  # (a rename: the old bytes are never copied, never lost)
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
            if sha256(tmp) != digest:
                raise WorkspaceError(f"the archive copy of {source.name} does not match its checksum")
        now = format_timestamp(clock.now(self.workspace.settings))
        with engine_for_url(self.workspace.db_url).begin() as db:
            db.execute(update(archive_catalog).where(archive_catalog.c.name == known.name).values(
                sha256=digest, size=size, source=str(source), ingested=now))
        with exclusive_lock(self.workspace.mon_dir / ".ARCHIVE_UPDATES.lock"):
            log = self.workspace.mon_dir / UPDATES_LOG
            with log.open("a", encoding="utf-8") as out:
                out.write(f"{now} {known.name} {known.sha256} -> {digest} (the earlier file: {kept})\n")
        return CatalogEntry(known.name, str(target), digest, size, known.hidden_by)


#: ``$DFO_MON_DIR/ARCHIVE_UPDATES``: one line per archived file a new release replaced (ENABLE_UPDATES).
UPDATES_LOG = "ARCHIVE_UPDATES"


@dataclass(frozen=True)
class IngestResult:
    ingested: tuple[str, ...]
    listing: Path


def _date(day: KeyLike) -> date:
    """The DFO date of a processing key; calibrations are certified per date (a run key: StateError)."""
    key = ProcessingKey.of(day)
    if key.day is None:
        raise StateError(f"{key.text} is no DFO date: certified calibrations belong to dates")
    return key.day


def ingest_list(workspace: Workspace, mode: Mode | str, key: KeyLike) -> Path:
    """``$DFO_LST_DIR/list_ingest_<MODE>_<KEY>.txt``: what an ingest put into the archive, with checksums."""
    return workspace.lst_dir / f"list_ingest_{BatchId.of(mode, key).render()}.txt"


def certified_name(workspace: Workspace, mode: Mode, name: str) -> None:
    """Refuse (FormatError naming it) a file name that is not a certified name of ``mode``: only certified
    products go into the archive."""
    if mode is Mode.CALIB:
        CalibName.parse(name, workspace.settings.MCAL_NAME_PATTERN)
    else:
        ScienceName.parse(name, workspace.settings.SCI_NAME_PATTERN)


def _accepted_any(workspace: Workspace, mode: Mode, day: KeyLike) -> bool:
    """Whether the date's move had an accepted AB (so certified products are expected)."""
    names = [name for name, _ in read_evidence(workspace, mode, day).successful()]
    with engine_for_url(workspace.db_url).begin() as db:
        return any(decision == ACCEPT for decision, _ in latest_decisions(db, names).values())


def ingest(workspace: Workspace, mode: Mode | str, day: KeyLike, ingestor: Ingestor | None = None) -> IngestResult:
    """Ingest the certified products of a date (a run: those not ingested yet); see the module docstring."""
    mode = Mode.parse(mode)
    key = ProcessingKey.of(day).text
    listing = ingest_list(workspace, mode, day)
    accumulates = ProcessingKey.of(day).day is None  # a run: its targets are moved one after the other
    _ingestable(workspace, mode, key, listing, accumulates)
    archive = ingestor or WorkspaceArchive(workspace)
    from astropy.io import fits

    folder = product_dir(workspace, mode, key)
    files = sorted(folder.glob("*.fits"))
    for path in files:
        certified_name(workspace, mode, path.name)  # only certified products go in
    if not files and not accumulates and _accepted_any(workspace, mode, day):
        raise StateError(f"no certified products in {folder} to ingest, though {mode} {key} has accepted ABs")
    listed = _listed(listing) if accumulates else {}
    lines, new = [], []
    for path in files:
        if path.name in listed and listed[path.name].split()[1] == sha256(path):
            lines.append(listed[path.name])  # ingested by an earlier call
            continue
        header = fits.getheader(path)
        entry = archive.ingest(path, day, mode.value, str(header.get("HIERARCH ESO PRO REC1 RAW1 NAME", "")),
                               str(header.get("HIERARCH ESO PRO CATG", "")))
        lines.append(f"{path.name} {entry.sha256} {entry.size}")
        new.append(path.name)
    append_job_line(workspace, "JOBS_CLEANUP", command_line("cleanup", "-d", key))
    write_text_atomic(listing, "".join(line + "\n" for line in lines))  # last: the list says the ingest is done
    if not accumulates:  # a date is ingested once: its JOBS_INGEST line is done (a run's line serves again)
        ingest_line_done(workspace, mode, key)
    return IngestResult(tuple(new), listing)


def ingest_line_done(workspace: Workspace, mode: Mode, key: str) -> None:
    """Comment out the date's line in JOBS_INGEST once its ingest list is written (a killed run's resume, which
    finds the list, calls it too)."""
    mark_job_line_done(workspace, "JOBS_INGEST", command_line("ingest", "-m", mode.value, "-d", key),
                       f"ingested {format_timestamp(clock.now(workspace.settings))}")


def _ingestable(workspace: Workspace, mode: Mode, key: str, listing: Path, accumulates: bool) -> None:
    """Refuse a date ingested already or not moved yet; a run is ingested again and again (what its moves added),
    once something of it is moved."""
    if accumulates:
        if not product_dir(workspace, mode, key).is_dir():
            raise StateError(f"nothing of {mode} {key} is moved yet: run 'dfos phoenix -r {key} -M' first")
        return
    if listing.is_file():
        raise StateError(f"{mode} {key} is already ingested ({listing}): refused to ingest it twice")
    updated = mode_flag(mode, Stage.UPDATED)
    if updated not in flags_by_key(workspace.status_log.read()).get(key, []):
        raise StateError(f"{mode} {key} is not moved yet ('{updated}' is not in DFO_STATUS): "
                        f"run 'dfos move -m {mode} -d {key}' first")


def _listed(listing: Path) -> dict[str, str]:
    """A run's listing so far: name -> its line (``<name> <sha256> <size>``)."""
    if not listing.is_file():
        return {}
    text = read_text(listing, "the ingest list")
    return {line.split()[0]: line for line in text.splitlines() if len(line.split()) == 3}


def ingest_static(workspace: Workspace, ingestor: Ingestor | None = None) -> tuple[str, ...]:
    """Archive the static calibrations (``$DFO_CAL_DIR/GEN/*.fits``, :mod:`dfos.steps.static_calib`) under
    TODAY (they have no date of their own); the names archived (again: an archived one counts as done).  A
    release's hide never touches them (docs/releases.md)."""
    from astropy.io import fits

    from dfos.steps.static_calib import gen_dir

    archive = ingestor or WorkspaceArchive(workspace)
    day = clock.today(workspace.settings)
    files = sorted(gen_dir(workspace).glob("*.fits"))
    for path in files:
        archive.ingest(path, day, Mode.CALIB.value, "", str(fits.getval(path, "HIERARCH ESO PRO CATG", default="")))
    return tuple(path.name for path in files)
