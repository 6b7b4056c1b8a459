"""Moving files without ever losing one: copy, verify (size and SHA-256), rename into place, then
delete the source; planned first, so an interrupted move is resumed exactly.

A plan is a JSON file of ``{"source", "target", "sha256", "size"}`` entries, written atomically
before anything moves.  :func:`carry_out` is idempotent: an entry whose target already holds the
planned checksum only has its source removed; a source that is still there is copied again.  An
entry whose source and target are both gone (or whose target holds other bytes) stops the move
with an error: nothing is deleted that has no verified copy.

A plan (like every file the closing steps rely on) is read with :func:`read_text`: a missing file, a
directory or an unreadable file is named in a :class:`StateError`, bytes that are not UTF-8 in a
:class:`FormatError`; a plan that is not exactly a list of such entries is a :class:`FormatError`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from dfos.errors import FormatError, StateError, WorkspaceError
from dfos.fsutil import atomic_path, decode_text, fsync_dir, sha256_file, write_text_atomic

__all__ = ["MovePlan", "Planned", "carry_out", "parse_plan", "read_plan", "read_text", "sha256", "write_plan"]


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


def read_text(path: Path, what: str) -> str:
    """The text of a UTF-8 file the closing steps rely on (``what`` says what it is, e.g. "the AB list").

    A missing file, a directory or a file that cannot be read is refused with a :class:`StateError`
    naming it; bytes that are not UTF-8 (or a NUL byte) with a :class:`FormatError` naming it.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StateError(f"{path} ({what}) is missing: refused") from None
    except IsADirectoryError:
        raise StateError(f"{path} ({what}) is a directory, not a file: refused") from None
    except OSError as exc:
        raise StateError(f"{path} ({what}) cannot be read ({exc.strerror or exc}): refused") from None
    text = decode_text(data, str(path), f"{what}: refused")
    if "\0" in text:
        raise FormatError(f"{path} ({what}) holds a NUL byte (offset {text.index(chr(0))}): refused")
    return text


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KEYS = {"source", "target", "sha256", "size"}


def _entry(entry: object, where: str) -> Planned:
    if not isinstance(entry, dict) or set(entry) != _KEYS:
        raise FormatError(f"{where}: expected an object with exactly the keys {', '.join(sorted(_KEYS))}")
    source, target, digest, size = entry["source"], entry["target"], entry["sha256"], entry["size"]
    for name, value in (("source", source), ("target", target)):
        if not isinstance(value, str) or not value.startswith("/") or "\0" in value or len(value) > 4096:
            raise FormatError(f"{where}: {name} must be an absolute path")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise FormatError(f"{where}: sha256 must be 64 lower-case hex digits")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 2**63:
        raise FormatError(f"{where}: size must be a whole number of bytes")
    return Planned(source, target, digest, size)


def parse_plan(text: str, source: str = "<plan>") -> MovePlan:
    """A plan's entries; anything but a JSON list of ``{source, target, sha256, size}`` is a :class:`FormatError`."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; so is a 5000-digit number
        raise FormatError(f"{source}: not a move plan (JSON: {str(exc)[:200]})") from None
    if not isinstance(document, list):
        raise FormatError(f"{source}: not a move plan (a JSON list of entries)")
    plan = [_entry(entry, f"{source}: entry {number}") for number, entry in enumerate(document, start=1)]
    targets: dict[str, int] = {}
    for number, entry in enumerate(plan, start=1):
        if targets.setdefault(entry.target, number) != number:
            raise FormatError(f"{source}: entries {targets[entry.target]} and {number} have the same target")
    return plan


def read_plan(path: Path) -> MovePlan | None:
    """The plan in ``path`` (None: there is none); see :func:`parse_plan` and :func:`read_text`."""
    if not path.exists() and not path.is_symlink():
        return None
    return parse_plan(read_text(path, "a move plan"), str(path))


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
