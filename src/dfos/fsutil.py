"""Crash-safe file writing: a file appears complete under its final name or not at all."""

from __future__ import annotations

import fcntl
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dfos.errors import FormatError

__all__ = ["atomic_path", "decode_text", "exclusive_lock", "fsync_dir", "pid_alive", "read_utf8",
           "remove_dead_partials", "write_if_changed", "write_text_atomic", "writer_tag"]


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry (after a rename) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextmanager
def atomic_path(target: Path, mode: int | None = None, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success fsync it and rename it into place.

    The file gets ``mode`` if given, else the mode of the file it replaces,
    else the usual mode of a new file under the process umask.  On any
    exception the temporary file is removed and ``target`` is untouched.
    ``durable=False`` skips the fsyncs, for files that can be made again (logs,
    plots): still never half-written after a crash, but a power cut may lose
    the newest version.
    """
    if mode is None:
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.{writer_tag()}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(target.parent)


def writer_tag() -> str:
    """``<host>-<pid>``: who writes a temporary file (``.<name>.<host>-<pid>.<random>.part``), so that what a killed
    writer left can be told from what a live one is writing (:func:`remove_dead_partials`)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine still exists (another user's process counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def remove_dead_partials(directory: Path) -> list[Path]:
    """Remove the temporary files that writers of this host left in ``directory`` when they were killed before
    renaming them into place (``.<name>.<host>-<pid>.<random>.part``, and a move's ``.part.lnk``) and whose process
    is gone; a live writer's (this process's included) and another host's are kept.  The files removed.

    A killed writer never leaves half a file under its final name (:func:`atomic_path`), only such a temporary
    beside it: a command started again after a kill calls this on the directories it writes."""
    if not directory.is_dir():
        return []
    tag = re.compile(re.escape(f".{socket.gethostname()}-") + r"(\d+)\.[^.]+\.part(\.lnk)?$")
    removed = []
    for entry in os.scandir(directory):
        found = tag.search(entry.name) if entry.name.startswith(".") else None
        if found and int(found.group(1)) != os.getpid() and not pid_alive(int(found.group(1))):
            path = Path(entry.path)
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def decode_text(data: bytes, source: str, hint: str = "fix or replace the file", encoding: str = "utf-8") -> str:
    """``data`` as text; :class:`~dfos.errors.FormatError` naming ``source``, the line, the byte and its
    offset when it is not text in ``encoding`` (every dfos reader of text files says it the same way)."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        name = "ASCII" if encoding == "ascii" else encoding.upper()
        raise FormatError(f"{source}:{line}: byte 0x{data[exc.start]:02x} at offset {exc.start} is not {name} text; "
                          f"{hint}") from None


def read_utf8(path: Path) -> str:
    """The text of a file dfos reads as UTF-8; :class:`~dfos.errors.FormatError` naming the file (and the
    byte) when it is not UTF-8 text."""
    return decode_text(path.read_bytes(), str(path))


def write_text_atomic(target: Path, text: str, mode: int | None = None, durable: bool = True) -> None:
    """Write ``text`` to ``target`` atomically (temporary file, fsync unless not ``durable``, rename)."""
    with atomic_path(target, mode, durable) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_if_changed(target: Path, text: str) -> bool:
    """Write ``text`` atomically unless ``target`` already holds it; True if written."""
    try:
        if target.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    write_text_atomic(target, text)
    return True


@contextmanager
def exclusive_lock(path: Path, wait: float | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the duration.

    Waits for other holders: for ever, or ``wait`` seconds, after which :class:`BlockingIOError`
    is raised. The kernel releases the lock when the process dies, so a crash never leaves a
    stale lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if wait is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes (read in 1 MB blocks)."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
