"""Fetching raw frames from the archive into ``$DFO_RAW_DIR/<DATE>`` (rawDown files call this)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from dfos.archive.local import LocalArchive
from dfos.errors import DfosError
from dfos.fsutil import atomic_path
from dfos.workspace import Workspace

__all__ = ["copy_verified", "fetch_many", "fetch_raw"]


def copy_verified(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a temporary file, checking the size, then rename."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
        if tmp.stat().st_size != source.stat().st_size:
            raise OSError(f"short copy of {source}")


def fetch_raw(workspace: Workspace, day: date, name: str) -> Path:
    """Make one raw frame available locally; return its path."""
    target = workspace.raw_dir / day.isoformat() / Path(name).name
    if target.is_file():
        return target
    source = LocalArchive(workspace.archive_dir).store_path(Path(name).name)
    if not source.is_file():
        raise DfosError(f"{name} is not in the archive {workspace.archive_dir}")
    copy_verified(source, target)
    return target


def fetch_many(workspace: Workspace, day: date, names: list[str], parallel: int) -> list[Path]:
    """Fetch several frames with at most ``parallel`` copies at once; raise the first failure after all ran."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(fetch_raw, workspace, day, name) for name in names]
    return [f.result() for f in futures]
