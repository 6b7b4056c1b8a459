"""Archive clients: what dfos needs from an archive (NGAS at ESO), behind one interface.

* :class:`LocalArchiveClient`: the workspace's archive directory (the embedded default);
* :class:`HttpArchiveClient`: an archive speaking the small NGAS-like HTTP protocol of
  :mod:`dfos.archive.server` (``dfos archive serve``):

  ``GET /dates`` -> ``["2013-02-12", ...]`` (archive nights);
  ``GET /files?date=YYYY-MM-DD[&checksums=1]`` -> ``[{"name", "size", "sha256"}, ...]``;
  ``GET /RETRIEVE?file_id=NAME`` -> the file (``Content-Length``, ``X-Checksum-SHA256``);
  ``GET /RETRIEVE?file_id=NAME&processing=header`` -> its primary header (whole 2880-byte blocks).

:func:`download` fetches many files with bounded parallelism, retries with backoff (when and how
long to wait: urllib3's ``Retry``, :mod:`dfos.archive.retry`), size and checksum verification and an
atomic rename into place.  The HTTP client is urllib3's pool of kept-alive connections, shared by the
download threads; it is imported only when an HTTP archive is used.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from dfos.archive.local import LocalArchive
from dfos.dates import dfo_date
from dfos.errors import ExternalToolError, FormatError
from dfos.fsutil import atomic_path, sha256_file
from dfos.naming import RawName

if TYPE_CHECKING:
    from urllib3 import BaseHTTPResponse, PoolManager

__all__ = [
    "ArchiveClient",
    "ArchiveEntry",
    "ArchiveFrame",
    "HttpArchiveClient",
    "LocalArchiveClient",
    "MissingFile",
    "TransferError",
    "download",
    "fetch_verified",
    "primary_header_bytes",
]

BLOCK = 2880


class TransferError(ExternalToolError):
    """A file could not be fetched (after the retries)."""

    def __init__(self, message: str, status: int | None = None, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The archive's HTTP status, when it answered with an error."""
        self.retry_after = retry_after
        """The archive's ``Retry-After``, when it sent one (seconds or an HTTP date)."""


class MissingFile(TransferError):
    """The archive has no such file (no retry will bring it)."""


@dataclass(frozen=True)
class ArchiveEntry:
    name: str
    size: int
    sha256: str | None = None


@dataclass(frozen=True)
class ArchiveFrame:
    """A raw frame the archive lists, with its exposure start (from its name)."""

    name: str
    moment: datetime
    size: int


def primary_header_bytes(path: Path) -> bytes:
    """The primary header of a FITS file: whole 2880-byte blocks up to the one holding ``END``."""
    out = bytearray()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            out += block
            for offset in range(0, len(block), 80):
                if block[offset : offset + 8] == b"END     ":
                    return bytes(out)
            if len(out) > 2880 * 200:
                break
    raise FormatError(f"{path.name}: no END card in its primary header")


class ArchiveClient(ABC):
    """Listing and fetching archive files."""

    @abstractmethod
    def list_dates(self) -> list[date]:
        """Archive nights that hold files, oldest first."""

    @abstractmethod
    def list_files(self, night: date, checksums: bool = False) -> list[ArchiveEntry]:
        """Files of one archive night (with their SHA-256 when asked)."""

    def frames_between(self, start: datetime, end: datetime, prefix: str | None = None) -> list[ArchiveFrame]:
        """Raw frames (of ``prefix`` if given) whose exposure starts in ``[start, end)``, oldest first.

        Archive nights follow the plain 12:00 UT rule (the archive knows no workspace's DFO_OFFSET),
        so the neighbouring nights are listed too."""
        found = []
        night = dfo_date(start) - timedelta(days=1)
        while night <= dfo_date(end) + timedelta(days=1):
            for entry in self.list_files(night):
                try:
                    name = RawName.parse(entry.name)
                except FormatError:
                    continue
                if prefix in (None, name.prefix) and start <= name.moment < end:
                    found.append(ArchiveFrame(entry.name, name.moment, entry.size))
            night += timedelta(days=1)
        return sorted(found, key=lambda f: (f.moment, f.name))

    @abstractmethod
    def fetch_header(self, name: str) -> bytes:
        """A file's primary header (2880-byte blocks)."""

    @abstractmethod
    def fetch_into(self, name: str, target: Path) -> str:
        """Write a file's bytes to ``target``; return the SHA-256 the archive states for it."""


class LocalArchiveClient(ArchiveClient):
    """The workspace's archive directory."""

    def __init__(self, root: Path) -> None:
        self.archive = LocalArchive(root)

    def list_dates(self) -> list[date]:
        found = []
        for folder in sorted(self.archive.root.iterdir()) if self.archive.root.is_dir() else []:
            try:
                found.append(date.fromisoformat(folder.name))
            except ValueError:
                continue
        return found

    def list_files(self, night: date, checksums: bool = False) -> list[ArchiveEntry]:
        folder = self.archive.root / night.isoformat()
        if not folder.is_dir():
            return []
        return [ArchiveEntry(p.name, p.stat().st_size, sha256_file(p) if checksums else None)
                for p in sorted(folder.iterdir()) if p.is_file() and p.name.endswith(".fits")]

    def _path(self, name: str) -> Path:
        try:
            path = self.archive.file_path(name)
        except FormatError as exc:
            raise MissingFile(exc.message) from None
        if not path.is_file():
            raise MissingFile(f"{name} is not in the archive {self.archive.root}")
        return path

    def fetch_header(self, name: str) -> bytes:
        return primary_header_bytes(self._path(name))

    def fetch_into(self, name: str, target: Path) -> str:
        source = self._path(name)
        shutil.copyfile(source, target)
        return sha256_file(source)


def _cause(exc: BaseException) -> str:
    """What went wrong, in the words of the innermost cause (``[Errno 111] Connection refused``)."""
    reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError holds the error that ended it
    if isinstance(reason, BaseException):
        exc = reason
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc) or type(exc).__name__


class HttpArchiveClient(ArchiveClient):
    """An archive behind the HTTP protocol of the module docstring.

    One urllib3 pool of kept-alive connections per client, shared by the download threads (no new
    connection, or TLS handshake, per file); redirects followed; a body shorter than its
    ``Content-Length`` is an error.  No retry here: :func:`fetch_verified` decides them."""

    #: Connections kept open per archive host (more threads may run; the extra connections are closed).
    CONNECTIONS = 16

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self._pool: PoolManager | None = None
        self._pool_lock = threading.Lock()

    def _manager(self) -> PoolManager:
        import urllib3  # here, not at the top: a workspace with a local archive never pays for it

        with self._pool_lock:
            if self._pool is None:
                self._pool = urllib3.PoolManager(
                    num_pools=4, maxsize=self.CONNECTIONS, block=False,
                    timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                    retries=urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5))
            return self._pool

    @contextmanager
    def _get(self, path: str, **query: str) -> Iterator[BaseHTTPResponse]:
        """The response to ``GET path?query`` (an error status raised as :class:`TransferError`, 404 as
        :class:`MissingFile`); a failure while its body is read is a :class:`TransferError` too."""
        from urllib3.exceptions import HTTPError

        url = f"{self.base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        try:
            response = self._manager().request("GET", url, preload_content=False)
        except HTTPError as exc:
            raise TransferError(f"{url}: {_cause(exc)}") from None
        if response.status >= 400:
            response.drain_conn()
            response.release_conn()
            kind = MissingFile if response.status == 404 else TransferError
            raise kind(f"{url}: HTTP {response.status} {response.reason}", response.status,
                       response.headers.get("Retry-After"))
        try:
            yield response
        except BaseException as exc:
            response.close()  # the body may be half read: this connection does not go back into the pool
            if isinstance(exc, HTTPError):
                raise TransferError(f"{url}: {_cause(exc)}") from None
            raise
        else:
            response.drain_conn()
        finally:
            response.release_conn()

    def list_dates(self) -> list[date]:
        with self._get("/dates") as response:
            return [date.fromisoformat(d) for d in json.loads(response.read())]

    def list_files(self, night: date, checksums: bool = False) -> list[ArchiveEntry]:
        with self._get("/files", date=night.isoformat(), checksums="1" if checksums else "0") as response:
            return [ArchiveEntry(e["name"], int(e["size"]), e.get("sha256")) for e in json.loads(response.read())]

    def fetch_header(self, name: str) -> bytes:
        with self._get("/RETRIEVE", file_id=name, processing="header") as response:
            return bytes(response.read())

    def fetch_into(self, name: str, target: Path) -> str:
        with self._get("/RETRIEVE", file_id=name) as response, target.open("wb") as out:
            stated = response.headers.get("X-Checksum-SHA256", "")
            shutil.copyfileobj(response, out, 1 << 20)
        return str(stated)


Progress = Callable[[int, int], None]


def _fetch_checked(client: ArchiveClient, name: str, target: Path) -> None:
    """One attempt: the bytes into a temporary file, checked against the archive's SHA-256, renamed."""
    with atomic_path(target) as tmp:
        stated = client.fetch_into(name, tmp)
        got = sha256_file(tmp)
        if stated and got != stated:
            raise TransferError(f"{name}: checksum {got[:12]}... differs from the archive's {stated[:12]}...")


def fetch_verified(client: ArchiveClient, name: str, target_dir: Path, retries: int = 3, backoff: float = 0.5,
                   sleep: Callable[[float], None] = time.sleep) -> Path:
    """Fetch one file (``name``: its archive file id) into ``target_dir`` unless it is there: to a temporary
    file, checked against the archive's SHA-256, renamed into place.  A failed or corrupted transfer is
    tried again up to ``retries`` times, waiting ``backoff`` x 2^n seconds, or what the archive's
    ``Retry-After`` asks (:class:`dfos.archive.retry.TransferRetry`).  :class:`MissingFile` at once when
    the archive has no such file, :class:`TransferError` at once for an HTTP status no retry cures (400,
    403, ...) and after the retries for the others."""
    target = target_dir / Path(name).name
    if target.is_file():
        return target
    from dfos.archive.retry import TransferRetry  # urllib3: only when something is fetched

    target_dir.mkdir(parents=True, exist_ok=True)
    policy = TransferRetry.of(retries, backoff)
    while True:
        try:
            _fetch_checked(client, name, target)
            return target
        except MissingFile:
            raise  # no retry brings it
        except (TransferError, OSError) as exc:
            failure = exc if isinstance(exc, TransferError) else TransferError(str(exc))
            policy = policy.after(name, failure)
            sleep(policy.wait(failure))


def download(client: ArchiveClient, names: Iterable[str], target_dir: Path, parallel: int = 8, retries: int = 3,
             backoff: float = 0.5, progress: Progress | None = None,
             sleep: Callable[[float], None] = time.sleep) -> list[Path]:
    """Fetch files into ``target_dir`` (those already there are kept), at most ``parallel`` at once, each
    with :func:`fetch_verified`.  Raises :class:`TransferError` naming what failed after all ran.
    """
    wanted = list(dict.fromkeys(names))
    done = 0
    failures: list[str] = []

    def one(name: str) -> Path:
        return fetch_verified(client, name, target_dir, retries, backoff, sleep)

    target_dir.mkdir(parents=True, exist_ok=True)
    results: list[Path] = []
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(one, name) for name in wanted]
        for future in futures:
            try:
                results.append(future.result())
            except TransferError as exc:
                failures.append(exc.message)
            done += 1
            if progress:
                progress(done, len(wanted))
    if failures:
        raise TransferError(f"{len(failures)} of {len(wanted)} downloads failed, e.g. {failures[0]}")
    return results
