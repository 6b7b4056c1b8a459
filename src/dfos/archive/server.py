"""``dfos archive serve DIR``: an archive directory over HTTP, in the protocol of
:mod:`dfos.archive.client` (modelled on NGAS's ``RETRIEVE``), plus ``/stats`` (requests served and
the most transfers that ran at once).

Nothing outside the served directory is reachable, not even through a symbolic link; checksums
and reads run in worker threads and checksums are cached per file version, so one big file never
holds up other requests; query strings and parameters are bounded; a header request for a file
that is not FITS answers 422.

For tests the app can inject faults: fail the first N retrievals of a file (HTTP 503, with a
``Retry-After`` if asked), corrupt a file's bytes in transit, or hold each transfer for a while (so
that concurrency shows).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from dfos.archive.client import LocalArchiveClient, primary_header_bytes
from dfos.archive.local import LocalArchive
from dfos.errors import FormatError, UnsafeName
from dfos.fsutil import sha256_file
from dfos.naming import confined

__all__ = ["ArchiveFaults", "create_archive_app"]


@dataclass
class ArchiveFaults:
    fail_first: dict[str, int] = field(default_factory=dict)
    """File name -> how many retrievals fail (HTTP 503) before one succeeds."""
    corrupt_first: dict[str, int] = field(default_factory=dict)
    """File name -> how many retrievals deliver a corrupted byte."""
    delay: float = 0.0
    """Seconds each transfer is held open."""
    retry_after: str = ""
    """The ``Retry-After`` header of the failed retrievals (none when empty)."""


class _Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.requests = 0

    def enter(self) -> None:
        with self.lock:
            self.active += 1
            self.requests += 1
            self.max_active = max(self.max_active, self.active)

    def leave(self) -> None:
        with self.lock:
            self.active -= 1


class _Checksums:
    """SHA-256 per file, computed once per version of it: cached under (path, size, mtime, inode)."""

    #: Versions remembered at most (then the cache starts afresh).
    LIMIT = 100_000

    def __init__(self) -> None:
        self.known: dict[tuple[str, int, int, int], str] = {}
        self.lock = threading.Lock()
        self.computed = 0
        """Checksums computed (not taken from the cache)."""
        self.running = 0
        """Checksums being computed now."""

    def of(self, path: Path) -> str:
        """The file's SHA-256 (blocking: call it from a worker thread, never on the event loop)."""
        info = path.stat()
        key = (str(path), info.st_size, info.st_mtime_ns, info.st_ino)
        with self.lock:
            cached = self.known.get(key)
            if cached is not None:
                return cached
            self.running += 1
        try:
            digest = sha256_file(path)
        finally:
            with self.lock:
                self.running -= 1
        with self.lock:
            if len(self.known) >= self.LIMIT:
                self.known.clear()
            self.known[key] = digest
            self.computed += 1
        return digest


#: The longest query string, file id and date parameter the server reads (longer: HTTP 414 / 400).
MAX_QUERY = 2048
MAX_FILE_ID = 512


def _bad_query(request: Request, allowed: dict[str, tuple[str, ...] | None]) -> Response | None:
    """An error answer when the query is too long, names a parameter not ``allowed`` or gives one a value
    outside its allowed values (None: any value, up to :data:`MAX_FILE_ID` characters)."""
    if len(request.url.query) > MAX_QUERY:
        return PlainTextResponse(f"query longer than {MAX_QUERY} characters", status_code=414)
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            return PlainTextResponse(f"unknown parameter {key[:40]!r}; known: {', '.join(allowed) or 'none'}",
                                     status_code=400)
        values = allowed[key]
        if (values is not None and value not in values) or len(value) > MAX_FILE_ID:
            return PlainTextResponse(f"bad value for {key}" + (f": one of {', '.join(values)}" if values else ""),
                                     status_code=400)
    return None


class _Archive:
    """The server's state and its handlers (one per app): the directory, the faults, the counts."""

    def __init__(self, root: Path, faults: ArchiveFaults) -> None:
        self.root = root
        self.archive = LocalArchive(root)
        self.listing = LocalArchiveClient(root)
        self.faults = faults
        self.stats = _Stats()
        self.sums = _Checksums()
        self.counts: dict[str, int] = {}
        self.counts_lock = threading.Lock()

    # --- blocking helpers (run in worker threads) ---

    def _inside(self, path: Path) -> bool:
        try:
            confined(path, self.root)
        except UnsafeName:
            return False
        return True

    def _path(self, name: str) -> Path | None:
        try:
            path = self.archive.file_path(name)  # a raw frame's name or calib/<DATE>/<master>: nothing else
        except FormatError:
            return None
        return path if path.is_file() and self._inside(path) else None

    def _dates(self) -> list[str]:
        return [d.isoformat() for d in self.listing.list_dates() if self._inside(self.root / d.isoformat())]

    def _files(self, night: date, with_sums: bool) -> list[dict[str, object]]:
        folder = self.root / night.isoformat()
        if not self._inside(folder):
            return []
        entries = [e for e in self.listing.list_files(night) if self._inside(folder / e.name)]
        return [{"name": e.name, "size": e.size, "sha256": self.sums.of(folder / e.name) if with_sums else None}
                for e in entries]

    def _attempt(self, name: str) -> int:
        """Count a retrieval of ``name``; return its number (1 for the first)."""
        with self.counts_lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            return self.counts[name]

    # --- handlers ---

    async def dates(self, request: Request) -> Response:
        refused = _bad_query(request, {})
        return refused or JSONResponse(await run_in_threadpool(self._dates))

    async def files(self, request: Request) -> Response:
        refused = _bad_query(request, {"date": None, "checksums": ("0", "1")})
        if refused:
            return refused
        try:
            night = date.fromisoformat(request.query_params.get("date", ""))
        except ValueError:
            return PlainTextResponse("date=YYYY-MM-DD required", status_code=400)
        with_sums = request.query_params.get("checksums") == "1"
        return JSONResponse(await run_in_threadpool(self._files, night, with_sums))

    async def retrieve(self, request: Request) -> Response:
        refused = _bad_query(request, {"file_id": None, "processing": ("header",)})
        if refused:
            return refused
        name = request.query_params.get("file_id", "")
        path = await run_in_threadpool(self._path, name)
        if path is None:
            return PlainTextResponse(f"no file {name}", status_code=404)
        if request.query_params.get("processing") == "header":
            return await self._header(name, path)
        attempt = self._attempt(name)
        if attempt <= self.faults.fail_first.get(name, 0):
            headers = {"Retry-After": self.faults.retry_after} if self.faults.retry_after else None
            return PlainTextResponse("archive busy (injected)", status_code=503, headers=headers)
        return await self._transfer(path, corrupt=attempt <= self.faults.corrupt_first.get(name, 0))

    async def _header(self, name: str, path: Path) -> Response:
        try:
            return Response(await run_in_threadpool(primary_header_bytes, path), media_type="application/octet-stream")
        except FormatError as exc:
            return PlainTextResponse(f"{name}: not a FITS file with a primary header ({exc.message})",
                                     status_code=422)

    async def _transfer(self, path: Path, corrupt: bool) -> Response:
        checksum = await run_in_threadpool(self.sums.of, path)
        handle = path.open("rb")  # opened now: the file served is the one checked, whatever the path becomes
        size = os.fstat(handle.fileno()).st_size
        return StreamingResponse(self._body(handle, corrupt), media_type="application/octet-stream",
                                 headers={"Content-Length": str(size), "X-Checksum-SHA256": checksum})

    async def _body(self, handle: BinaryIO, corrupt: bool) -> AsyncIterator[bytes]:
        self.stats.enter()
        try:
            if self.faults.delay:
                await asyncio.sleep(self.faults.delay)
            first = True
            while chunk := await run_in_threadpool(handle.read, 1 << 20):
                if corrupt and first:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                first = False
                yield chunk
        finally:
            handle.close()
            self.stats.leave()

    async def stats_page(self, request: Request) -> Response:
        stats, sums = self.stats, self.sums
        return JSONResponse({"requests": stats.requests, "max_concurrent": stats.max_active, "active": stats.active,
                             "checksums_computed": sums.computed, "checksums_running": sums.running})


def create_archive_app(root: Path, faults: ArchiveFaults | None = None) -> Starlette:
    """The archive server of a directory laid out as :class:`dfos.archive.local.LocalArchive`.

    Nothing outside ``root`` is ever served or listed: a path that resolves (through a symbolic link to a
    file or a directory) outside it counts as absent.  Checksums and file reads run in worker threads,
    so a big file never holds up other requests; checksums are cached per file version.
    """
    app = _Archive(Path(root), faults or ArchiveFaults())
    return Starlette(routes=[Route("/dates", app.dates), Route("/files", app.files), Route("/RETRIEVE", app.retrieve),
                             Route("/stats", app.stats_page)])
