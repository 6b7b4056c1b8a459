"""Reading AB files from an AB directory: bytes to :class:`~dfos.ab.model.AB`, or one clean error."""

from __future__ import annotations

from pathlib import Path

from dfos.ab.format import parse
from dfos.ab.model import AB
from dfos.errors import FormatError, NotFound, UnsafeName
from dfos.fsutil import decode_text
from dfos.naming import safe_name

__all__ = ["MAX_AB_BYTES", "decode", "read_ab", "read_ab_file"]

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
