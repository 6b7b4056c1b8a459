"""The DFO_STATUS file: locked atomic appends, tolerant reads, atomic trimming.

Concurrency contract (any number of processes):

* Every writer takes an exclusive ``flock`` on DFO_STATUS itself, checks that
  the locked file is still the one at the path (a trim may have replaced it:
  then it retries on the new file), writes its complete line(s) with one
  ``write`` on an ``O_APPEND`` descriptor, ``fsync``s, and releases.
* A trim holds the same lock while it writes the kept tail to a temporary file
  in the same directory, ``fsync``s it and renames it over DFO_STATUS; writers
  blocked on the old file notice the replacement and append to the new one, so
  no line is lost.
* Readers take a shared lock, so they never see half a line.

Shell scripts that must write without dfos use ``dfos flag``; a plain
``echo >> DFO_STATUS`` is safe only while no trim runs.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from dfos.fsutil import fsync_dir
from dfos.status.flags import Malformed, StatusLine, parse_text, render_line

__all__ = ["StatusLog"]

log = logging.getLogger(__name__)


@contextmanager
def _locked(path: Path, exclusive: bool) -> Iterator[int]:
    """Open ``path`` and lock it, retrying until the locked inode is the current file."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT if exclusive else os.O_RDONLY
    while True:
        fd = os.open(path, flags, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            held = os.fstat(fd)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is not None and (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino):
                yield fd
                return
        finally:
            os.close(fd)  # closing releases the lock


class StatusLog:
    """The DFO_STATUS file of one workspace."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- reading ---------------------------------------------------------------
    def _read_text(self) -> str:
        if not self.path.exists():
            return ""
        with _locked(self.path, exclusive=False) as fd:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        return b"".join(chunks).decode("utf-8", errors="replace")

    def read_all(self) -> tuple[list[StatusLine], list[Malformed]]:
        """Every well-formed event in file order, and the lines that were skipped."""
        return parse_text(self._read_text())

    def read(self) -> list[StatusLine]:
        """Every well-formed event in file order; malformed lines are skipped with a warning."""
        lines, bad = self.read_all()
        for item in bad:
            log.warning("%s:%d: skipped malformed line (%s): %r", self.path, item.lineno, item.reason, item.text)
        return lines

    # -- writing ---------------------------------------------------------------
    def append(self, flag: str, key: str, when: datetime) -> StatusLine:
        """Append one event atomically; return it."""
        line = StatusLine(flag=flag, key=key, timestamp=when)
        self.append_lines([line])
        return line

    def append_lines(self, lines: Iterable[StatusLine]) -> None:
        """Append events in one locked, fsync'ed write."""
        data = "".join(render_line(line) + "\n" for line in lines).encode("utf-8")
        if not data:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path, exclusive=True) as fd:
            self._write_all(fd, data)

    def append_if_absent(self, flag: str, key: str, when: datetime) -> bool:
        """Append ``flag`` for ``key`` unless some line already carries it; True if written.

        The check and the append happen under one lock, so concurrent callers
        write the flag once.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path, exclusive=True) as fd:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                existing, _ = parse_text(handle.read())
            if any(line.flag == flag and line.key == key for line in existing):
                return False
            self._write_all(fd, (render_line(StatusLine(flag, key, when)) + "\n").encode("utf-8"))
            return True

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)

    def trim(self, keep: int) -> int:
        """Keep only the newest ``keep`` lines, atomically; return how many were dropped."""
        if keep < 1:
            raise ValueError("keep must be at least 1")
        if not self.path.exists():
            return 0
        with _locked(self.path, exclusive=True):
            with open(self.path, encoding="utf-8", errors="replace", newline="") as handle:
                lines = [line for line in handle.read().splitlines(keepends=True) if line.strip()]
            if len(lines) <= keep:
                return 0
            kept = lines[-keep:]
            if not kept[-1].endswith("\n"):
                kept[-1] += "\n"
            fd, tmp = tempfile.mkstemp(prefix=".DFO_STATUS.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.writelines(kept)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(tmp, self.path.stat().st_mode & 0o7777)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            fsync_dir(self.path.parent)
            return len(lines) - keep
