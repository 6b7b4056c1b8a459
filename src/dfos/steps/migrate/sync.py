"""The copy engine of ``dfos migrate -I|-A``: every file of OLD's directories that NEW should have, copied once,
verified and recorded (docs/migration.md).

What is copied: every file of each directory (a :class:`Unit`: OLD's ``$DFO_*`` directory and NEW's) except FITS
files, which stay in the archive, but the static calibrations (``$DFO_CAL_DIR/GEN``) are copied; never temporaries
of a writer (``.*.part``), locks, the database file or NEW's own records.  ``since`` (``-I``) keeps, of the dated
subdirectories (``<dir>/YYYY-MM-DD/...``), those from that date on; files outside dated directories are always
in the set.

Each file: read (checksum), transformed if the caller says so (OLD's root in a job file becomes NEW's, an AB's
absolute paths become ``$DFO_*`` references), written to a temporary file beside its place, fsynced, read back and
its SHA-256 compared with what was meant to be written, renamed into place, and then a manifest line appended.  A
kill at any point leaves either nothing or a temporary a new run removes, or a placed file without its manifest
line, which the next run recognises by its checksum (adopted, not copied again).

What NEW changed itself since the last copy (its size, time and checksum differ from the manifest's record) is
never overwritten: it is reported as a conflict and NEW's version stays.
"""

from __future__ import annotations

import hashlib
import os
import stat as statmod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath

from dfos.clock import system_now
from dfos.dates import format_timestamp, parse_date
from dfos.errors import InvalidDate
from dfos.fsutil import atomic_path, remove_dead_partials, sha256_file
from dfos.steps.migrate.manifest import Entry, append_entries, read_manifest

__all__ = ["ASIDE", "Candidate", "SyncReport", "Transform", "Transformed", "Unit", "is_fits", "plan", "sync"]

#: The manifest's copy checksum of a file that was not placed but set aside (an AB dfos cannot read).
ASIDE = "aside"
#: Files up to this size are read whole (and may be transformed); larger ones are copied as they are, streamed.
_WHOLE = 32 << 20
_FITS_SUFFIXES = (".fits", ".fit", ".fts", ".tfits", ".fits.gz", ".fits.z", ".fits.fz", ".fz")
_NEVER = ("dfos.sqlite", "dfos.sqlite-wal", "dfos.sqlite-shm", "dfos.sqlite-journal", "dfos.toml")


@dataclass(frozen=True)
class Unit:
    """One directory copied: OLD's, NEW's, and the key that names both (``DFO_MON_DIR``; ``ROOT``: the roots)."""

    key: str
    source: Path
    target: Path
    static_calibrations: bool = False
    """FITS files of this unit are copied too (``$DFO_CAL_DIR/GEN``)."""


@dataclass(frozen=True)
class Transformed:
    """What a transform makes of a file."""

    data: bytes
    notes: tuple[str, ...] = ()
    """What it changed, one line each (reported)."""
    unmapped: tuple[str, ...] = ()
    """Paths it could not map (reported, and listed in ``.migrate/unmapped_paths``)."""
    aside: str = ""
    """Not usable in NEW (why): the file goes to ``NEW/.migrate/aside/<KEY>/<path>`` instead."""
    target_name: str = ""
    """Another name for the file in its directory (empty: the same)."""


#: A transform: (unit key, path in the unit, the file's bytes) -> what to write; None: the bytes as they are.
Transform = Callable[[str, PurePosixPath, bytes], Transformed | None]


@dataclass(frozen=True)
class Candidate:
    unit: Unit
    rel: PurePosixPath

    @property
    def name(self) -> str:
        return f"{self.unit.key}/{self.rel}"

    @property
    def source(self) -> Path:
        return self.unit.source / self.rel

    @property
    def target(self) -> Path:
        return self.unit.target / self.rel


@dataclass
class SyncReport:
    """What a run did (the summary line and ``.migrate/last_report``)."""

    copied: list[str] = field(default_factory=list)
    skipped: int = 0
    adopted: list[str] = field(default_factory=list)
    """Files found in place with the right checksum but no manifest line (a killed run placed them)."""
    conflicts: list[str] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)
    aside: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bytes: int = 0
    removed_partials: int = 0


def is_fits(name: str) -> bool:
    return name.lower().endswith(_FITS_SUFFIXES)


def _dated_before(rel: PurePosixPath, since: date | None) -> bool:
    if since is None:
        return False
    for part in rel.parts[:-1]:
        try:
            if parse_date(part) < since:
                return True
        except InvalidDate:
            continue
    return False


def _wanted(unit: Unit, rel: PurePosixPath, since: date | None) -> bool:
    """Whether a file is in the set (the decision of the module docstring; pure)."""
    name = rel.name
    if name.startswith(".") and (name.endswith((".part", ".part.lnk", ".lock"))):
        return False
    if unit.key == "ROOT" and len(rel.parts) == 1 and name in _NEVER:
        return False
    if is_fits(name) and not unit.static_calibrations:
        return False
    return not _dated_before(rel, since)


def _walk(unit: Unit, others: set[Path], skip_dirs: set[Path]) -> Iterator[tuple[Path, list[str]]]:
    """(directory, its file names) under a unit's source; directories of other units and ``skip_dirs`` pruned."""
    for directory, dirs, files in os.walk(unit.source):
        here = Path(directory)
        dirs[:] = sorted(d for d in dirs if (here / d) not in others and (here / d) not in skip_dirs)
        yield here, sorted(files)


def plan(units: list[Unit], since: date | None, skip_dirs: set[Path]) -> list[Candidate]:
    """Every file of the set, unit by unit (a unit's directories that are another unit's are that unit's)."""
    sources = {u.source for u in units}
    found: list[Candidate] = []
    for unit in units:
        if not unit.source.is_dir():
            continue
        for directory, files in _walk(unit, sources - {unit.source}, skip_dirs):
            for name in files:
                rel = PurePosixPath((directory / name).relative_to(unit.source).as_posix())
                path = directory / name
                if not path.is_file() or not _wanted(unit, rel, since):  # sockets, dead links
                    continue
                found.append(Candidate(unit, rel))
    return found


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verify(tmp: Path, expected: str) -> None:
    """The copy reads back with the checksum of what was meant to be written (else OSError: not placed)."""
    got = sha256_file(tmp)
    if got != expected:
        raise OSError(f"checksum of the copy {got[:12]}... differs from {expected[:12]}...")


@dataclass
class _Context:
    new_root: Path
    manifest: Path
    known: dict[str, Entry]
    transform: Transform | None
    report: SyncReport
    cleaned: set[Path] = field(default_factory=set)


def _intended(ctx: _Context, cand: Candidate, data: bytes) -> Transformed:
    made = ctx.transform(cand.unit.key, cand.rel, data) if ctx.transform is not None else None
    return made if made is not None else Transformed(data)


def _placed_at(ctx: _Context, cand: Candidate, made: Transformed) -> Path:
    if made.aside:
        return ctx.new_root / ".migrate" / "aside" / cand.unit.key / cand.rel
    return cand.target.with_name(made.target_name) if made.target_name else cand.target


def _same_state(st: os.stat_result, entry: Entry) -> bool:
    return st.st_size == entry.dst_size and st.st_mtime_ns == entry.dst_mtime_ns


def _unchanged_source(st: os.stat_result, entry: Entry) -> bool:
    return st.st_size == entry.src_size and st.st_mtime_ns == entry.src_mtime_ns


def _target_of(ctx: _Context, cand: Candidate, entry: Entry | None) -> Path:
    """Where NEW has the file (a transform may have renamed it or set it aside; the manifest says)."""
    if entry is not None and entry.dst_sha256 == ASIDE:
        return ctx.new_root / ".migrate" / "aside" / cand.unit.key / cand.rel
    return cand.target


def _decide(ctx: _Context, cand: Candidate, src: os.stat_result) -> str:
    """``skip``, ``copy`` or ``conflict`` (NEW changed the file since the last copy); ``check``: NEW has a file
    there that no manifest line records (compare checksums)."""
    entry = ctx.known.get(cand.name)
    if entry is not None and entry.dst_sha256 == ASIDE:
        return "skip" if _unchanged_source(src, entry) else "copy"
    try:
        dst = cand.target.stat()
    except FileNotFoundError:
        if entry is None:
            return "copy"
        return "skip" if _unchanged_source(src, entry) else "conflict"  # NEW removed it since
    if entry is None:
        return "check"
    if not _same_state(dst, entry) and sha256_file(cand.target) != entry.dst_sha256:
        return "conflict"
    return "skip" if _unchanged_source(src, entry) else "copy"


def _record(ctx: _Context, cand: Candidate, src: os.stat_result, src_sha: str, placed: Path | None,
            dst_sha: str) -> None:
    dst = placed.stat() if placed is not None else None
    entry = Entry(cand.name, src.st_size, src.st_mtime_ns, src_sha, dst_sha, dst.st_size if dst else -1,
                  dst.st_mtime_ns if dst else -1, format_timestamp(system_now()))
    append_entries(ctx.manifest, [entry])
    ctx.known[cand.name] = entry


def _clean(ctx: _Context, directory: Path) -> None:
    if directory not in ctx.cleaned:
        ctx.cleaned.add(directory)
        ctx.report.removed_partials += len(remove_dead_partials(directory))


def _write(ctx: _Context, cand: Candidate, src: os.stat_result, data: bytes, made: Transformed) -> None:
    target = _placed_at(ctx, cand, made)
    _clean(ctx, target.parent)
    expected = _sha(made.data)
    with atomic_path(target, mode=statmod.S_IMODE(src.st_mode)) as tmp:
        tmp.write_bytes(made.data)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.utime(tmp, ns=(src.st_atime_ns, src.st_mtime_ns))
        _verify(tmp, expected)
        now = cand.source.stat()
        if now.st_size != src.st_size or now.st_mtime_ns != src.st_mtime_ns:
            raise OSError("the file changed in OLD while it was copied; run again")
    _record(ctx, cand, src, _sha(data), target if not made.aside else None, ASIDE if made.aside else expected)


def _stream(ctx: _Context, cand: Candidate, src: os.stat_result) -> None:
    """A large file, copied as it is in blocks (its checksum taken on the way)."""
    _clean(ctx, cand.target.parent)
    digest = hashlib.sha256()
    with atomic_path(cand.target, mode=statmod.S_IMODE(src.st_mode)) as tmp:
        with cand.source.open("rb") as reader, tmp.open("wb") as writer:
            for block in iter(lambda: reader.read(1 << 20), b""):
                digest.update(block)
                writer.write(block)
        os.utime(tmp, ns=(src.st_atime_ns, src.st_mtime_ns))
        _verify(tmp, digest.hexdigest())
    _record(ctx, cand, src, digest.hexdigest(), cand.target, digest.hexdigest())


def _note(report: SyncReport, cand: Candidate, made: Transformed) -> None:
    report.rewritten += [f"{cand.name}: {note}" for note in made.notes]
    report.unmapped += [f"{cand.name}: {path}" for path in made.unmapped]
    if made.aside:
        report.aside.append(f"{cand.name}: {made.aside}")


def _one(ctx: _Context, cand: Candidate) -> None:
    report = ctx.report
    _clean(ctx, cand.target.parent)  # what a killed run left here (also beside files not copied again)
    src = cand.source.stat()
    verdict = _decide(ctx, cand, src)
    if verdict == "skip":
        report.skipped += 1
        return
    if verdict == "conflict":
        report.conflicts.append(f"{cand.name}: NEW changed {cand.target} since the last copy; NEW's version kept")
        return
    if src.st_size > _WHOLE:
        if verdict == "check" and sha256_file(cand.target) == sha256_file(cand.source):
            _record(ctx, cand, src, sha256_file(cand.target), cand.target, sha256_file(cand.target))
            report.adopted.append(cand.name)
            return
        if verdict == "check":
            report.conflicts.append(f"{cand.name}: NEW has its own {cand.target}; kept")
            return
        _stream(ctx, cand, src)
    else:
        data = cand.source.read_bytes()
        made = _intended(ctx, cand, data)
        if verdict == "check":
            if sha256_file(cand.target) == _sha(made.data):
                _record(ctx, cand, src, _sha(data), cand.target, _sha(made.data))
                report.adopted.append(cand.name)
            else:
                report.conflicts.append(f"{cand.name}: NEW has its own {cand.target}; kept")
            return
        _write(ctx, cand, src, data, made)
        _note(report, cand, made)
    report.copied.append(cand.name)
    report.bytes += src.st_size


def sync(units: list[Unit], new_root: Path, manifest: Path, since: date | None, transform: Transform | None,
         progress: Callable[[int, int], None] | None = None, skip_dirs: set[Path] | None = None) -> SyncReport:
    """Copy the set of the module docstring from each unit's source to its target; see the module."""
    candidates = plan(units, since, skip_dirs or set())
    ctx = _Context(new_root, manifest, read_manifest(manifest), transform, SyncReport())
    for unit in units:
        _clean(ctx, unit.target)
    for done, cand in enumerate(candidates, start=1):
        try:
            _one(ctx, cand)
        except OSError as exc:
            ctx.report.failed.append(f"{cand.name}: {exc.strerror or exc}")
        if progress is not None:
            progress(done, len(candidates))
    return ctx.report
