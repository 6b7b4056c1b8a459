"""AB files in an AB directory: bytes to :class:`~dfos.ab.model.AB` (or one clean error), and the one
change made to an AB file in place, its PROCESS_STATUS."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from dfos.ab.format import parse, render, status_slot, with_status
from dfos.ab.model import AB, ProcessStatus
from dfos.errors import DfosError, FormatError, NotFound, UnsafeName
from dfos.fsutil import decode_text, write_text_atomic
from dfos.naming import safe_name

__all__ = ["MAX_AB_BYTES", "ab_reader", "decode", "read_ab", "read_ab_file", "write_process_status"]

#: The largest AB file dfos reads (a real one is a few kB).
MAX_AB_BYTES = 4 * 1024 * 1024


def decode(data: bytes, source: str) -> str:
    """The text of an AB file; :class:`FormatError` naming the file and line for bytes that are not UTF-8."""
    return decode_text(data, source, "is this an AB file?")


def read_ab_file(path: Path) -> AB:
    """Read and parse one AB file; :class:`NotFound` when it does not exist, :class:`FormatError` when it
    is not a readable AB (not a regular file, too big, not UTF-8, malformed)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_AB_BYTES + 1)
    except FileNotFoundError:
        raise NotFound(f"no AB {path.name} in {path.parent}; create it with 'dfos create-ab'") from None
    except IsADirectoryError:
        raise FormatError(f"{path}: is a directory, not an AB file") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot read the AB file ({exc.strerror})") from None
    if len(data) > MAX_AB_BYTES:
        raise FormatError(f"{path}: larger than {MAX_AB_BYTES} bytes; is this an AB file?")
    return parse(decode(data, str(path)), str(path))


def read_ab(ab_dir: Path, name: str) -> AB:
    """The AB called ``name`` in ``ab_dir`` (a path's directory part is ignored).

    A name that cannot be an AB's file name (a newline, ``..``, 5 MB) is :class:`NotFound`: no AB has it.
    """
    base = name.rsplit("/", 1)[-1]
    try:
        safe_name(base, "AB name")
    except UnsafeName as exc:
        raise NotFound(f"no such AB in {ab_dir}: {exc.message}") from None
    return read_ab_file(ab_dir / base)


def ab_reader(ab_dir: Path) -> Callable[[str], AB | None]:
    """A look-up of ABs by name in ``ab_dir``: None for one that is not there or cannot be read."""

    def read(name: str) -> AB | None:
        try:
            return read_ab(ab_dir, name)
        except DfosError:
            return None

    return read


#: How far into an AB file its PROCESS_STATUS line is looked for when it is overwritten in place.
_STATUS_HEAD = 4096


def write_process_status(path: Path, ab: AB, status: ProcessStatus) -> None:
    """Set PROCESS_STATUS in the AB file ``path`` (only that field changes); the caller holds the AB list's lock.

    The value is padded to :data:`~dfos.ab.format.STATUS_WIDTH` in every AB dfos writes, so it is
    overwritten in place by one ``pwrite`` of a few bytes: no temporary file, no fsync, and neither a
    crash nor a power cut can leave half an AB (at worst the previous status, which the workspace
    database, written first, corrects when the cascade resumes).  An AB without the padding (written
    by hand) is rewritten atomically instead, its line as :mod:`dfos.ab.format` writes it; a file
    without the line is written anew from ``ab``.
    """
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(path, os.O_RDWR)
        try:
            slot = status_slot(os.pread(fd, _STATUS_HEAD, 0))
            if slot and slot[1] >= len(status.value):
                os.pwrite(fd, status.value.ljust(slot[1]).encode(), slot[0])
                return
        finally:
            os.close(fd)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    updated = with_status(text, status)
    write_text_atomic(path, updated if updated is not None else render(replace(ab, process_status=status)))
