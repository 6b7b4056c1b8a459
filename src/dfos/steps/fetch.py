"""Fetching from the archive: raw frames into ``$DFO_RAW_DIR/<DATE>`` (rawDown files) and
certified masters back into ``$DFO_CAL_DIR/<DATE>`` (mcalDown files); processAB uses the same
functions for anything still missing when an AB starts."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from dfos.ab.model import AB
from dfos.archive.client import (
    ArchiveClient,
    HttpArchiveClient,
    LocalArchiveClient,
    MissingFile,
    download,
    fetch_verified,
)
from dfos.archive.local import LocalArchive, master_id
from dfos.config.settings import Flavour
from dfos.dates import parse_date
from dfos.errors import FormatError, InvalidDate, NotFound, UnsafeName
from dfos.fsutil import atomic_path
from dfos.naming import RawName, confined, safe_name
from dfos.workspace import Workspace

__all__ = ["archive_client", "copy_verified", "download_slots", "fetch_many", "fetch_master", "fetch_masters",
           "fetch_raw", "master_name", "master_source", "missing_masters", "raw_frame_name", "restore_master"]


def copy_verified(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a temporary file, checking the size, then rename."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
        if tmp.stat().st_size != source.stat().st_size:
            raise OSError(f"short copy of {source}")


def archive_client(workspace: Workspace) -> ArchiveClient:
    """The workspace's archive: ``ARCHIVE_URL`` over HTTP, else the archive directory."""
    url = workspace.settings.ARCHIVE_URL
    return HttpArchiveClient(url) if url else LocalArchiveClient(workspace.archive_dir)


def download_slots(workspace: Workspace) -> int:
    """Parallel downloads: DOWNLOAD_SLOTS, one at a time for the OPSHUB flavour (bandwidth-bound)."""
    return 1 if workspace.settings.FLAVOUR is Flavour.OPSHUB else workspace.settings.DOWNLOAD_SLOTS


def fetch_raw(workspace: Workspace, day: date, name: str) -> Path:
    """Make one raw frame available locally (verified against the archive's checksum); return its path."""
    (path,) = download(archive_client(workspace), [Path(name).name], workspace.raw_dir / day.isoformat(),
                       parallel=1, retries=workspace.settings.DOWNLOAD_RETRIES)
    return path


def master_source(workspace: Workspace, target: Path) -> str:
    """The archive file id of a master that belongs at ``target`` (``$DFO_CAL_DIR/<DATE>/<name>``, or
    ``$DFO_CAL_DIR/NEW/<DATE>/<name>``: COMPLETE_MODE's)."""
    from dfos.steps.certified_names import NEW

    folder = target.parent
    try:
        if folder.parent not in (workspace.cal_dir, workspace.cal_dir / NEW):
            raise ValueError
        day = parse_date(folder.name)
    except (ValueError, InvalidDate):
        raise FormatError(f"{target} is not a certified master of $DFO_CAL_DIR/<DATE>") from None
    LocalArchive(workspace.archive_dir).master_path(day, target.name)  # refuses a name that is no file name
    return master_id(day, target.name)


def restore_master(workspace: Workspace, target: Path) -> bool:
    """Fetch the certified master that belongs at ``target`` back from the workspace's archive (the
    archive directory, or ARCHIVE_URL over HTTP; verified, atomic); False when the archive has none, or
    hides it (a release superseded it: docs/releases.md).  Raises FormatError for a path that is no certified
    master's, TransferError when the archive fails."""
    from dfos.steps.release import hidden_by

    source = master_source(workspace, target)
    if hidden_by(workspace, target.name):
        return False
    try:
        fetch_verified(archive_client(workspace), source, target.parent,
                       retries=workspace.settings.DOWNLOAD_RETRIES)
    except MissingFile:
        return False
    return True


def master_name(name: str) -> str:
    """``name`` if it is ``<DATE>/<file>`` with a DFO date and a safe file name; UnsafeName otherwise."""
    day, _, file = name.partition("/")
    try:
        parse_date(day)
        safe_name(file, "master file name")
    except (InvalidDate, UnsafeName) as exc:
        raise UnsafeName(f"not DATE/FILE of a certified master: {exc.message}") from None
    return name


def raw_frame_name(name: str) -> str:
    """``name`` if it is an archive file name of a raw frame (UVES.2013-02-12T18:05:00.500.fits); FormatError."""
    RawName.parse(safe_name(name, "raw frame name"))
    return name


def fetch_master(workspace: Workspace, name: str) -> Path:
    """Make one certified master available again; ``name`` is ``<DATE>/<file>`` under ``$DFO_CAL_DIR``."""
    target = confined(workspace.cal_dir / master_name(name), workspace.cal_dir)
    if not target.is_file() and not restore_master(workspace, target):
        from dfos.steps.release import hidden_by

        release = hidden_by(workspace, target.name)
        if release:
            raise NotFound(f"the master {name} is hidden in the archive by release {release}: "
                           f"'dfos release undo --release {release}' shows it again")
        where = workspace.settings.ARCHIVE_URL or workspace.archive_dir
        raise NotFound(f"the master {name} is not in the archive {where}")
    return target


def missing_masters(workspace: Workspace, abs_: Iterable[AB]) -> list[str]:
    """Certified masters (non-virtual MCALIB) the ABs read that are not on disk, as ``<DATE>/<file>``."""
    wanted: list[str] = []
    for ab in abs_:
        if ab.completeness.value != "COMPLETE":
            continue
        for cal in ab.mcalib:
            if cal.virtual:
                continue  # made by an AB of the cascade
            path = workspace.expand(cal.sof_path)
            if path.parent.parent != workspace.cal_dir or path.is_file():
                continue
            name = f"{path.parent.name}/{path.name}"
            if name not in wanted:
                wanted.append(name)
    return wanted


def _parallel(fetch: Callable[[str], Path], names: list[str], parallel: int) -> list[Path]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(fetch, name) for name in names]
    return [f.result() for f in futures]


def fetch_many(workspace: Workspace, day: date, names: list[str], parallel: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Fetch several frames, at most ``parallel`` (default: :func:`download_slots`) at once, retried and
    verified; raises after all ran, naming what failed."""
    return download(archive_client(workspace), [raw_frame_name(n) for n in names], workspace.raw_dir / day.isoformat(),
                    parallel=parallel or download_slots(workspace), retries=workspace.settings.DOWNLOAD_RETRIES,
                    progress=progress)


def fetch_masters(workspace: Workspace, names: list[str], parallel: int) -> list[Path]:
    """Fetch several masters (``<DATE>/<file>``), at most ``parallel`` at once."""
    for name in names:
        master_name(name)  # every name is checked before anything is fetched
    return _parallel(lambda name: fetch_master(workspace, name), names, parallel)
