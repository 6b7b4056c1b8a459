"""The DFO_STATUS file: locked atomic appends, tolerant reads, atomic trimming.

Concurrency contract (any number of processes):

* Every writer takes an exclusive ``flock`` on DFO_STATUS itself, checks that
  the locked file is still the one at the path (a trim may have replaced it:
  then it retries on the new file), writes its complete line(s) with one
  ``write`` on an ``O_APPEND`` descriptor, ``fsync``s, and releases.
* A writer that finds the file not ending in a newline (a line left unfinished
  by a killed writer or an editor) first ends that line, so its own line is
  never glued onto it; a write that fails half-way is cut back off.
* A trim holds the same lock while it writes the kept tail to a temporary file
  in the same directory, ``fsync``s it and renames it over DFO_STATUS; writers
  blocked on the old file notice the replacement and append to the new one, so
  no line is lost.  Trimming works on bytes: kept lines are copied unchanged.
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

from dfos.errors import WorkspaceError
from dfos.fsutil import fsync_dir
from dfos.status.flags import Malformed, StatusLine, parse_text, render_line

__all__ = ["StatusLog"]

log = logging.getLogger(__name__)

#: A skipped line is quoted in its warning up to this many characters.
SHOWN = 120


def _shown(text: str) -> str:
    quoted = repr(text)
    return quoted if len(quoted) <= SHOWN else f"{quoted[:SHOWN]}... ({len(text)} characters)"


@contextmanager
def _locked(path: Path, exclusive: bool) -> Iterator[int]:
    """Open ``path`` and lock it, retrying until the locked inode is the current file."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT if exclusive else os.O_RDONLY
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

    def _check(self) -> None:
        if self.path.is_dir():
            raise WorkspaceError(f"{self.path} is a directory, not the DFO_STATUS file; move it away")

    # -- reading ---------------------------------------------------------------
    def _read_text(self) -> str:
        self._check()
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
            log.warning("%s:%d: skipped malformed line (%s): %s", self.path, item.lineno, _shown(item.reason),
                        _shown(item.text))
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
        with self._exclusive() as fd:
            self._write_all(fd, data)

    @contextmanager
    def _exclusive(self) -> Iterator[int]:
        """The exclusive lock on DFO_STATUS, creating the file (durably) when it is new."""
        self._check()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with _locked(self.path, exclusive=True) as fd:
            if new:
                fsync_dir(self.path.parent)
            yield fd

    def append_if_absent(self, flag: str, key: str, when: datetime) -> bool:
        """Append ``flag`` for ``key`` unless some line already carries it; True if written.

        The check and the append happen under one lock, so concurrent callers
        write the flag once.
        """
        with self._exclusive() as fd:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                existing, _ = parse_text(handle.read())
            if any(line.flag == flag and line.key == key for line in existing):
                return False
            self._write_all(fd, (render_line(StatusLine(flag, key, when)) + "\n").encode("utf-8"))
            return True

    def append_unless_newest(self, flag: str, key: str, when: datetime) -> bool:
        """Append ``flag`` for ``key`` unless it is already the newest flag of ``key``; True if written.

        For a step repeated with nothing in between (a run killed right after it, started again): the
        second line would say nothing new.  Checked and appended under one lock.
        """
        with self._exclusive() as fd:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                existing, _ = parse_text(handle.read())
            mine = [line.flag for line in existing if line.key == key]
            if mine and mine[-1] == flag:
                return False
            self._write_all(fd, (render_line(StatusLine(flag, key, when)) + "\n").encode("utf-8"))
            return True

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        """Write complete lines at the end of the locked file, or nothing at all."""
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, size)
            raise

    def trim(self, keep: int) -> int:
        """Keep only the newest ``keep`` lines, atomically; return how many were dropped."""
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self._check()
        if not self.path.exists():
            return 0
        with _locked(self.path, exclusive=True):
            for stale in self.path.parent.glob(f".{self.path.name}.*.trim"):
                stale.unlink(missing_ok=True)  # left by a trim that died; only trims make these, under this lock
            lines = [line for line in self.path.read_bytes().splitlines(keepends=True) if line.strip()]
            if len(lines) <= keep:
                return 0
            kept = lines[-keep:]
            if not kept[-1].endswith(b"\n"):
                kept[-1] += b"\n"
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".trim", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
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
