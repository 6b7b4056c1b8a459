"""finish, remove, cleanup (DFOS finishNight, the monitor's remove, cleanupProducts).

* ``finish``: a date closes once every mode that has ABs (its AB list names one) is moved: CALIB
  and SCIENCE alike; it warns when a moved mode's ingestion is still open; deletes the date's raw
  FITS (copies of archived frames: each is deleted only when the archive holds it), the cascades'
  working directories (CALIB and SCIENCE, QC and subcascades) and empty product directories
  (leftover products are moved to ``$DFO_LOG_DIR/<DATE>/leftover``, never deleted); trims DFO_STATUS
  to its newest ``STATUS_KEEP_LINES``; removes the date's job files (execAB, execQC, rawDown, mcalDown,
  subcascade and DAGMan files, its blocks in JOBS_NIGHT / JOBS_AUTO: :func:`dfos.steps.todo.remove_date_jobs`);
  adds the date to ``$DFO_MON_DIR/HISTORY``; appends ``finished``.
* ``remove``: appends ``removed``: the date leaves the monitor.
* ``cleanup``: replaces each ingested FITS of ``$DFO_CAL_DIR/<DATE>`` and ``$DFO_SCI_DIR/<DATE>`` by its
  ``.hdr`` header, only when both the local file and the archived copy have the checksum the catalog
  recorded; refuses a date that is not finished unless forced.

``finish`` and ``cleanup`` first check what they rely on for each moved mode (:func:`check_moved`,
:func:`check_ingested`): the move finished (its plan ``.move_<MODE>.json`` is gone), the evidence agrees
(:func:`dfos.steps.certify.read_evidence`), every moved AB is in ``$DFO_LOG_DIR/<DATE>`` and every
product of an accepted AB is in its product directory (``$DFO_CAL_DIR/<DATE>``, SCIENCE
``$DFO_SCI_DIR/<DATE>``; as FITS, or as its ``.hdr`` after cleanup), and every line of the ingest list
matches the archive catalog.  Otherwise they refuse, naming the file, before they delete anything.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime

from astropy.io import fits

from dfos import clock
from dfos.dates import dfo_date, format_timestamp
from dfos.db import engine_for_url
from dfos.errors import FormatError, StateError
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.headers.io import read_hdr_file, write_hdr
from dfos.keys import BatchId, Mode, Stage, mode_flag
from dfos.naming import RawName, safe_name
from dfos.status.flags import StatusFlag
from dfos.status.machine import flags_by_key
from dfos.status.todo import reset_pending
from dfos.steps.certified_names import product_dir
from dfos.steps.certify import ACCEPT, read_ab_file, read_evidence
from dfos.steps.fetch import archive_client
from dfos.steps.ingest import WorkspaceArchive, ingest_list
from dfos.steps.move import plan_file
from dfos.steps.safe_move import Planned, carry_out, read_text, sha256
from dfos.steps.score import latest_decisions
from dfos.steps.status import runnable_count
from dfos.workspace import Workspace

__all__ = ["CleanupResult", "FinishResult", "check_ingested", "check_moved", "cleanup", "finish", "modes_with_abs",
           "remove"]


@dataclass(frozen=True)
class FinishResult:
    warnings: tuple[str, ...]
    raw_deleted: int
    raw_kept: int
    job_files: tuple[str, ...] = ()
    """The date's job files (and JOBS_NIGHT / JOBS_AUTO blocks) removed (:func:`dfos.steps.todo.remove_date_jobs`)."""


def _flags(workspace: Workspace, day: date) -> list[str]:
    return flags_by_key(workspace.status_log.read()).get(day.isoformat(), [])


def check_moved(workspace: Workspace, mode: Mode | str, day: date) -> None:
    """Refuse (naming the file) unless the move of MODE DATE finished and left everything where it said."""
    mode = Mode.parse(mode)
    key = day.isoformat()
    plan = plan_file(workspace, mode, key)
    if plan.exists() or plan.is_symlink():
        raise StateError(f"{plan} is still there: the move of {mode} {key} did not finish; "
                         f"run 'dfos move -m {mode} -d {key}' again")
    evidence = read_evidence(workspace, mode, day)
    names = [name for name, _ in evidence.successful()]
    with engine_for_url(workspace.db_url).begin() as db:
        decided = latest_decisions(db, names)
    log_dir = workspace.path("DFO_LOG_DIR") / key
    for name in names:
        moved = read_ab_file(log_dir / name)  # move wrote every decided AB there
        if decided.get(name, ("", ""))[0] != ACCEPT:
            continue
        for product in moved.products:
            path = workspace.expand(moved.prod_path) / product.name
            if not (path.is_file() or path.with_suffix(".hdr").is_file()):
                raise StateError(f"{path} is missing: {log_dir / name} names it as a certified product of {mode} "
                                 f"{key}; restore it (it is in the archive once ingested) before closing the date")


def check_ingested(workspace: Workspace, mode: Mode | str, day: date) -> dict[str, tuple[str, int]]:
    """The ingest list of MODE DATE (name -> (sha256, size); empty: not ingested), refused (naming the
    list) unless each line matches the archive catalog."""
    listing = ingest_list(workspace, mode, day)
    if not listing.exists() and not listing.is_symlink():
        return {}
    entries: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(read_text(listing, "the ingest list").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or not fields[2].isdigit() or len(fields[2]) > 19:
            raise FormatError(f"{listing}:{number}: expected '<name> <sha256> <size>'")
        entries[safe_name(fields[0], f"the name on {listing}:{number}")] = (fields[1], int(fields[2]))
    archive = WorkspaceArchive(workspace)
    for name, (digest, size) in entries.items():
        entry = archive.lookup(name)
        if entry is None or (entry.sha256, entry.size) != (digest, size):
            what = "has no entry for it" if entry is None else "records other bytes"
            raise StateError(f"{listing} lists {name}, but the archive catalog {what}: the evidence disagrees; "
                             "refused")
    return entries


def modes_with_abs(workspace: Workspace, day: date) -> list[Mode]:
    """The modes whose AB list of the date names at least one AB that can run (COMPLETE): each must be moved
    before the date closes (a mode of INCOMPLETE ABs only has nothing to process, certify or move)."""
    return [mode for mode in Mode if (runnable_count(workspace.ab_list(mode, day)) or 0) > 0]


def _check_closable(workspace: Workspace, day: date, flags: list[str]) -> list[Mode]:
    """Refuse a date finished already, not moved yet (every mode that has ABs), or whose move or ingestion
    did not hold; the modes moved."""
    key = day.isoformat()
    if StatusFlag.FINISHED.value in flags:
        raise StateError(f"{key} is finished already")
    moved = [mode for mode in Mode if mode_flag(mode, Stage.UPDATED) in flags]
    if not moved:
        raise StateError(f"{key} is not moved yet: finish comes after 'dfos move' (no cal_Updated in DFO_STATUS)")
    for mode in Mode:
        if reset_pending(flags, mode):
            raise StateError(f"{mode} {key} was reset and not run again: create its ABs first ('dfos create-ab "
                             f"-m {mode} -d {key}'); finish deletes the raw frames it needs")
    for mode in modes_with_abs(workspace, day):
        if mode not in moved:
            raise StateError(f"{mode} {key} has ABs but is not moved yet ('{mode_flag(mode, Stage.UPDATED)}' is not "
                             f"in DFO_STATUS): certify and move it first ('dfos move -m {mode} -d {key}')")
    for mode in moved:
        check_moved(workspace, mode, day)
        check_ingested(workspace, mode, day)
    return moved


def _delete_raw(workspace: Workspace, day: date, warnings: list[str]) -> tuple[int, int]:
    """Delete the date's raw FITS the archive holds (same name and size); (deleted, kept)."""
    client = archive_client(workspace)
    listed: dict[date, dict[str, int]] = {}
    deleted = kept = 0
    raw = workspace.raw_dir / day.isoformat()
    for frame in sorted(raw.glob("*.fits")) if raw.is_dir() else []:
        try:
            night = dfo_date(RawName.parse(frame.name).moment)  # archive nights: the plain 12:00 UT rule
        except FormatError:
            night = None
        if night is not None and night not in listed:
            listed[night] = {e.name: e.size for e in client.list_files(night)}
        if night is not None and listed[night].get(frame.name) == frame.stat().st_size:
            frame.unlink()
            deleted += 1
        else:
            kept += 1
            warnings.append(f"{frame.name} is not in the archive: kept")
    return deleted, kept


def _clear_products(workspace: Workspace, key: str, warnings: list[str]) -> None:
    """Remove the cascades' working directories (every mode's); move leftover products to the logs, remove
    their folders."""
    for mode in Mode:
        work_dirs = f"*{BatchId.of(mode, key).render()}*"
        for work in workspace.work_root.glob(work_dirs) if workspace.work_root.is_dir() else []:
            shutil.rmtree(work, ignore_errors=True)
    product_root = workspace.path("DFS_PRODUCT")
    leftover = workspace.path("DFO_LOG_DIR") / key / "leftover"
    for folder in sorted(product_root.glob(f"*/{key}")):
        files = [p for p in folder.iterdir() if p.is_file()]
        carry_out([Planned(str(p), str(leftover / folder.parent.name / p.name), sha256(p), p.stat().st_size)
                   for p in files])
        if files:
            warnings.append(f"{len(files)} leftover product(s) of {folder} moved to {leftover}")
        folder.rmdir()


def _add_to_history(workspace: Workspace, key: str, now: datetime) -> None:
    """``<DATE> finished <time>`` in $DFO_MON_DIR/HISTORY, once per date."""
    history = workspace.mon_dir / "HISTORY"
    with exclusive_lock(history.with_name(".HISTORY.lock")):
        old = history.read_text(encoding="utf-8") if history.is_file() else ""
        if not any(line.split()[:1] == [key] for line in old.splitlines()):
            write_text_atomic(history, old + f"{key} finished {format_timestamp(now)}\n")


def finish(workspace: Workspace, day: date) -> FinishResult:
    """Run finishNight for a date; see the module docstring."""
    key = day.isoformat()
    flags = _flags(workspace, day)
    moved = _check_closable(workspace, day, flags)
    warnings = [f"ingestion of {mode} {key} is still open (see JOBS_INGEST)" for mode in moved
                if not ingest_list(workspace, mode, day).is_file()]
    deleted, kept = _delete_raw(workspace, day, warnings)
    _clear_products(workspace, key, warnings)
    from dfos.steps.todo import remove_date_jobs  # relaunching them would run the date again

    jobs = remove_date_jobs(workspace, day)
    workspace.status_log.trim(workspace.settings.STATUS_KEEP_LINES)
    now = clock.now(workspace.settings)
    _add_to_history(workspace, key, now)
    workspace.status_log.append(StatusFlag.FINISHED.value, key, now)
    return FinishResult(tuple(warnings), deleted, kept, tuple(jobs))


def remove(workspace: Workspace, day: date) -> None:
    """Append ``removed``: the date leaves the monitor (only a finished date)."""
    key = day.isoformat()
    flags = _flags(workspace, day)
    if StatusFlag.FINISHED.value not in flags:
        raise StateError(f"{key} is not finished: run 'dfos finish -d {key}' first")
    if StatusFlag.REMOVED.value in flags:
        raise StateError(f"{key} is removed already")
    workspace.status_log.append(StatusFlag.REMOVED.value, key, clock.now(workspace.settings))


@dataclass(frozen=True)
class CleanupResult:
    replaced: tuple[str, ...]
    kept: tuple[str, ...]
    """FITS files left as they are (not ingested, or a checksum does not match)."""


def _cleaned_modes(workspace: Workspace, day: date, flags: list[str]) -> list[Mode]:
    """The modes whose products cleanup replaces: those moved (``finish`` may have trimmed the flags: a finished
    date's modes with ABs), checked as finish checks them."""
    key = day.isoformat()
    finished = StatusFlag.FINISHED.value in flags
    modes = [mode for mode in Mode if mode_flag(mode, Stage.UPDATED) in flags
             or (finished and mode in modes_with_abs(workspace, day))]
    if not modes:
        raise StateError(f"{key} is not moved yet ('cal_Updated' is not in DFO_STATUS): nothing certified to clean up")
    for mode in modes:
        check_moved(workspace, mode, day)
        for name in check_ingested(workspace, mode, day):
            local = product_dir(workspace, mode, key) / name
            if not (local.is_file() or local.with_suffix(".hdr").is_file()):
                raise StateError(f"{local} is missing: {ingest_list(workspace, mode, day)} lists it as ingested; "
                                 "restore it from the archive")
    return modes


def cleanup(workspace: Workspace, day: date, force: bool = False) -> CleanupResult:
    """Replace ingested FITS files of ``$DFO_CAL_DIR/<DATE>`` and ``$DFO_SCI_DIR/<DATE>`` by their headers; see
    the module docstring."""
    key = day.isoformat()
    flags = _flags(workspace, day)
    if StatusFlag.FINISHED.value not in flags and not force:
        raise StateError(f"{key} is not finished: cleanup comes after 'dfos finish -d {key}' (or use --force)")
    modes = _cleaned_modes(workspace, day, flags)
    archive = WorkspaceArchive(workspace)
    replaced, kept = [], []
    for path in [p for mode in modes for p in sorted(product_dir(workspace, mode, key).glob("*.fits"))]:
        entry = archive.lookup(path.name)
        if entry is None or sha256(path) != entry.sha256 or not archive.verify(path.name):
            kept.append(path.name)
            continue
        hdr = path.with_suffix(".hdr")
        write_hdr(hdr, fits.getheader(path))
        if read_hdr_file(hdr).get("HIERARCH ESO PRO CATG") is None:
            kept.append(path.name)  # the header did not survive: keep the FITS file
            continue
        path.unlink()
        replaced.append(path.name)
    return CleanupResult(tuple(replaced), tuple(kept))
