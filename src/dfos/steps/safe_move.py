"""Moving files without ever losing one: copy, verify (size and SHA-256), rename into place, then
delete the source; planned first, so an interrupted move is resumed exactly.

A plan is a JSON file of ``{"source", "target", "sha256", "size"}`` entries, written atomically
before anything moves.  :func:`carry_out` is idempotent: an entry whose target already holds the
planned checksum only has its source removed; a source that is still there is copied again.  An
entry whose source and target are both gone (or whose target holds other bytes) stops the move
with an error: nothing is deleted that has no verified copy.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from dfos.errors import WorkspaceError
from dfos.fsutil import atomic_path, fsync_dir, sha256_file, write_text_atomic

__all__ = ["MovePlan", "Planned", "carry_out", "read_plan", "sha256", "write_plan"]


#: The SHA-256 of a file (the one implementation, :func:`dfos.fsutil.sha256_file`).
sha256 = sha256_file


@dataclass(frozen=True)
class Planned:
    source: str
    target: str
    sha256: str
    size: int


MovePlan = list[Planned]


def write_plan(path: Path, plan: MovePlan) -> None:
    write_text_atomic(path, json.dumps([asdict(p) for p in plan], indent=1) + "\n")


def read_plan(path: Path) -> MovePlan | None:
    try:
        return [Planned(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
    except FileNotFoundError:
        return None


def _move_one(entry: Planned) -> None:
    source, target = Path(entry.source), Path(entry.target)
    if target.is_file():
        if target.stat().st_size == entry.size and sha256(target) == entry.sha256:
            source.unlink(missing_ok=True)  # the verified copy exists: the source may go
            return
        if not source.is_file():
            raise WorkspaceError(f"{target} holds other bytes than planned and {source} is gone: moved nothing")
    elif not source.is_file():
        raise WorkspaceError(f"neither {source} nor {target} exists: the file was removed behind dfos's back")
    with atomic_path(target) as tmp:
        try:
            os.link(source, tmp.with_name(tmp.name + ".lnk"))  # same file system: a hard link is the copy
            os.replace(tmp.with_name(tmp.name + ".lnk"), tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        if tmp.stat().st_size != entry.size or sha256(tmp) != entry.sha256:
            raise WorkspaceError(f"the copy of {source} does not match its checksum; {source} is kept")
    source.unlink()
    fsync_dir(source.parent)


def carry_out(plan: MovePlan) -> int:
    """Carry out every entry (idempotent); returns how many files were moved by this call."""
    moved = 0
    for entry in plan:
        before = Path(entry.source).exists()
        _move_one(entry)
        moved += before
    return moved
