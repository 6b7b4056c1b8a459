"""The content keys of a batch's ABs, as createAB writes them (:mod:`dfos.ab.content` is the pure rule).

What the rule needs from the machine and the workspace, each looked up cheaply:

* the pipeline of a recipe: the workspace instrument's pipeline and its installed version
  (:func:`dfos.instruments.inventory.pipeline_version`), looked up once per process;
* the identity of a file input (a certified master, a static calibration): the SHA-256 of the file,
  kept per path, size and modification time (a file is read once per process while it does not change);
  a master that is not on disk takes the checksum the embedded archive's catalog holds for it (the same
  bytes give the same identity, fetched back or not), else its name (archived masters are immutable);
* the key of a parent in another batch (a SCIENCE AB's flat, made by a CALIB AB): its AB file's CONTENT_KEY;
* the checksum of a raw frame: the archive's, when phoenix's intake recorded it (:data:`CHECKSUMS`); otherwise
  the ARCFILE alone names the frame (archive files are immutable).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

from dfos.ab.content import keys_in_order
from dfos.ab.model import AB
from dfos.ab.store import read_ab_file
from dfos.errors import DfosError
from dfos.fsutil import sha256_file
from dfos.instruments.inventory import pipeline_version
from dfos.workspace import Workspace

__all__ = ["CHECKSUMS", "file_identity", "installed_pipeline", "recorded_checksums", "recorded_names",
           "with_content_keys", "write_checksums"]

_SHA_CACHE: dict[str, tuple[int, int, str]] = {}
_SHA_LOCK = threading.Lock()


@functools.cache
def installed_pipeline(pipeline: str) -> str:
    """``<pipeline>-<installed version>`` (``naco-4.4.11``; ``naco-none`` when not installed), once per process."""
    return f"{pipeline}-{pipeline_version(pipeline) or 'none'}"


def file_identity(path: os.PathLike[str] | str) -> str | None:
    """``sha256:<hex>`` of a file, computed once per path, size and modification time; None when it is not a
    readable file."""
    key = os.fspath(path)
    try:
        info = os.stat(key)
    except OSError:
        return None
    with _SHA_LOCK:
        known = _SHA_CACHE.get(key)
    if known is not None and known[:2] == (info.st_size, info.st_mtime_ns):
        return known[2]
    try:
        digest = "sha256:" + sha256_file(Path(key))
    except OSError:
        return None
    with _SHA_LOCK:
        _SHA_CACHE[key] = (info.st_size, info.st_mtime_ns, digest)
    return digest


def _catalog_checksums(workspace: Workspace, names: set[str]) -> dict[str, str]:
    """name -> sha256 of the files the embedded archive's catalog holds among ``names``."""
    if not names:
        return {}
    from sqlalchemy import select

    from dfos.db import archive_catalog, engine_for_url

    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(archive_catalog.c.name, archive_catalog.c.sha256)
                          .where(archive_catalog.c.name.in_(sorted(names)))).all()
    return {row.name: row.sha256 for row in rows}


def _file_identities(workspace: Workspace, abs_: Sequence[AB]) -> dict[str, str]:
    """SOF path -> identity of every file input of ``abs_`` that is neither a raw frame nor virtual."""
    paths: set[str] = set()
    for ab in abs_:
        raws = {raw.ref for raw in ab.rawfiles}
        virtual = {cal.sof_path for cal in ab.mcalib if cal.virtual}
        paths.update(path for path, _ in ab.sof if path not in raws and path not in virtual)
    found: dict[str, str] = {}
    absent: dict[str, str] = {}
    for path in paths:
        identity = file_identity(workspace.expand(path))
        if identity is None:
            absent[path] = PurePosixPath(path).name
        else:
            found[path] = identity
    archived = _catalog_checksums(workspace, set(absent.values()))
    for path, name in absent.items():
        found[path] = f"sha256:{archived[name]}" if name in archived else f"name:{name}"
    return found


#: The archive's checksums of a date's raw frames, as phoenix's intake records them beside their headers
#: (``$DFO_HDR_DIR/<DATE>/CHECKSUMS``: ``<sha256>  <name>`` per line, what ``sha256sum -c`` reads).
CHECKSUMS = "CHECKSUMS"


def write_checksums(workspace: Workspace, day: str, checksums: Mapping[str, str]) -> None:
    """Record the archive's checksums of a date's raw frames (``name -> sha256``) in ``$DFO_HDR_DIR/<DATE>``."""
    from dfos.fsutil import write_if_changed

    write_if_changed(workspace.hdr_dir / day / CHECKSUMS,
                     "".join(f"{digest}  {name}\n" for name, digest in sorted(checksums.items())))


def _recorded(workspace: Workspace, day: str) -> dict[str, str]:
    """name -> sha256 of a date's CHECKSUMS file (empty when there is none, or it cannot be read)."""
    try:
        text = (workspace.hdr_dir / day / CHECKSUMS).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return {}
    found = {}
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 64 and name:
            found[name] = digest
    return found


def recorded_names(workspace: Workspace, day: str) -> set[str]:
    """The raw frames of a date whose checksum is recorded."""
    return set(_recorded(workspace, day))


def recorded_checksums(workspace: Workspace, abs_: Sequence[AB]) -> dict[str, str]:
    """ARCFILE -> sha256 of the raw frames of ``abs_`` whose date has a CHECKSUMS file (:func:`write_checksums`)."""
    found: dict[str, str] = {}
    for day in sorted({PurePosixPath(raw.ref).parent.name for ab in abs_ for raw in ab.rawfiles}):
        found.update(_recorded(workspace, day))
    return found


def _key_in_file(workspace: Workspace, name: str) -> str | None:
    """The CONTENT_KEY of an AB file of ``$DFO_AB_DIR`` (None: no such AB, or written before content keys)."""
    try:
        return read_ab_file(workspace.ab_dir / name).content_key
    except DfosError:
        return None


def with_content_keys(workspace: Workspace, abs_: Sequence[AB], known: Mapping[str, str | None] | None = None,
                      raw_checksums: Mapping[str, str] | None = None) -> list[AB]:
    """``abs_`` (a batch's ABs, as the association made them) each with its CONTENT_KEY, parents first; the
    key of a parent that is not among them comes from ``known`` (name -> key), else from its AB file."""
    pipeline = installed_pipeline(workspace.instrument.pipeline)
    identities = _file_identities(workspace, abs_)
    known = dict(known or {})

    def outside(name: str) -> str | None:
        if name not in known:
            known[name] = _key_in_file(workspace, name)
        return known[name]

    if raw_checksums is None:
        raw_checksums = recorded_checksums(workspace, abs_)
    keys = keys_in_order(abs_, lambda _recipe: pipeline, outside, identities.__getitem__, raw_checksums)
    return [replace(ab, content_key=keys[ab.name]) for ab in abs_]
