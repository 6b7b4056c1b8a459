"""The migration records in ``NEW/.migrate``: the origin (where NEW was set up from) and the manifests (what was
copied, in which state), as documented in docs/migration.md.

Both are text files a person can read.  A manifest is append-only: one tab-separated line per file (or database
row) copied, written with a single ``write`` and an fsync after the copy is in place; the newest line of a name
stands.  A line cut short by a kill (no newline, too few fields) is ignored, so a killed run's manifest stays
readable and the next run finds that copy again by its checksum.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dfos.errors import FormatError, WorkspaceError
from dfos.fsutil import fsync_dir, write_text_atomic

__all__ = ["DB_MANIFEST", "FILE_MANIFEST", "MIGRATE_DIR", "Entry", "Origin", "append_entries", "origin_path",
           "read_manifest", "read_origin", "write_origin"]

#: NEW's directory of migration records.
MIGRATE_DIR = ".migrate"
#: The files copied: ``NEW/.migrate/manifest``.
FILE_MANIFEST = "manifest"
#: The database rows copied: ``NEW/.migrate/db_manifest``.
DB_MANIFEST = "db_manifest"
_ORIGIN = "origin"

_HEADER = ("# dfos migrate manifest (docs/migration.md): one line per copy, the newest line of a name stands\n"
           "# name\tsource size\tsource mtime_ns\tsource sha256\tcopy sha256\tcopy size\tcopy mtime_ns\tcopied at\n")


@dataclass(frozen=True)
class Entry:
    """One manifest line: a file (``<DIRECTORY KEY>/<path>``) or a row (``<table>/<key>``) and its two states."""

    name: str
    src_size: int
    src_mtime_ns: int
    src_sha256: str
    dst_sha256: str
    dst_size: int
    dst_mtime_ns: int
    copied_at: str

    def render(self) -> str:
        return "\t".join((self.name, str(self.src_size), str(self.src_mtime_ns), self.src_sha256, self.dst_sha256,
                          str(self.dst_size), str(self.dst_mtime_ns), self.copied_at)) + "\n"


def _entry(line: str) -> Entry | None:
    fields = line.split("\t")
    if len(fields) != 8 or line.startswith("#"):
        return None
    try:
        return Entry(fields[0], int(fields[1]), int(fields[2]), fields[3], fields[4], int(fields[5]), int(fields[6]),
                     fields[7])
    except ValueError:
        return None


def read_manifest(path: Path) -> dict[str, Entry]:
    """The newest entry of each name (a missing manifest: none); lines cut short by a kill are ignored."""
    if not path.is_file():
        return {}
    found: dict[str, Entry] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").split("\n")[:-1]:  # the last piece: no newline
        entry = _entry(line)
        if entry is not None:
            found[entry.name] = entry
    return found


def append_entries(path: Path, entries: Iterable[Entry]) -> None:
    """Append lines to a manifest: one ``write`` of whole lines, then fsync (a new manifest gets its header).
    A previous writer killed in the middle of a line left no newline: a newline first ends that piece."""
    text = "".join(e.render() for e in entries)
    if not text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            text = _HEADER + text
        else:
            with open(path, "rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    text = "\n" + text
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if size == 0:
        fsync_dir(path.parent)


@dataclass(frozen=True)
class Origin:
    """``NEW/.migrate/origin``: the workspace or DFOS tree NEW was set up from."""

    root: Path
    """OLD's root (absolute)."""
    kind: str
    """``dfos`` (a dfos workspace) or ``DFOS`` (an installation tree of ESO's DFOS)."""
    set_up: str
    """When ``dfos migrate setup`` made NEW (UT)."""
    instrument: str
    directories: tuple[tuple[str, str], ...] = ()
    """OLD's directories (``DFO_RAW_DIR``, its absolute path there) as setup found them."""

    def render(self) -> str:
        lines = ["# dfos migrate: this workspace was set up from another one; 'dfos migrate -I|-A' copies from it",
                 "# (never the other way; docs/migration.md).  Delete this directory to end the relation.",
                 f"ORIGIN_ROOT     {self.root}", f"ORIGIN_KIND     {self.kind}", f"SET_UP          {self.set_up}",
                 f"INSTRUMENT      {self.instrument}"]
        lines += [f"OLD_DIRECTORY   {key} {value}" for key, value in self.directories]
        return "\n".join(lines) + "\n"


def origin_path(new_root: Path) -> Path:
    return new_root / MIGRATE_DIR / _ORIGIN


def write_origin(new_root: Path, origin: Origin) -> None:
    write_text_atomic(origin_path(new_root), origin.render())


def read_origin(root: Path) -> Origin | None:
    """The origin recorded in ``root`` (None: it was not set up by ``dfos migrate setup``)."""
    path = origin_path(root)
    if not path.is_file():
        return None
    values: dict[str, str] = {}
    dirs: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, rest = line.partition(" ")
        if key == "OLD_DIRECTORY":
            name, _, value = rest.strip().partition(" ")
            dirs.append((name, value.strip()))
        else:
            values[key] = rest.strip()
    missing = [k for k in ("ORIGIN_ROOT", "ORIGIN_KIND") if not values.get(k)]
    if missing:
        raise FormatError(f"{path}: {missing[0]} is missing; write it again with 'dfos migrate setup OLD NEW'")
    if values["ORIGIN_KIND"] not in ("dfos", "DFOS"):
        raise WorkspaceError(f"{path}: ORIGIN_KIND {values['ORIGIN_KIND']!r} is neither dfos nor DFOS")
    return Origin(Path(values["ORIGIN_ROOT"]), values["ORIGIN_KIND"], values.get("SET_UP", ""),
                  values.get("INSTRUMENT", ""), tuple(dirs))
