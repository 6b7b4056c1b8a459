"""``dfos archive serve DIR``: an archive directory over HTTP, in the protocol of
:mod:`dfos.archive.client` (modelled on NGAS's ``RETRIEVE``), plus ``/stats`` (requests served and
the most transfers that ran at once).

Nothing outside the served directory is reachable, not even through a symbolic link; checksums
and reads run in worker threads and checksums are cached per file version, so one big file never
holds up other requests; query strings and parameters are bounded; a header request for a file
that is not FITS answers 422.

For tests the app can inject faults: fail the first N retrievals of a file (HTTP 503), corrupt a
file's bytes in transit, or hold each transfer for a while (so that concurrency shows).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

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


def create_archive_app(root: Path, faults: ArchiveFaults | None = None) -> Starlette:
    """The archive server of a directory laid out as :class:`dfos.archive.local.LocalArchive`.

    Nothing outside ``root`` is ever served or listed: a path that resolves (through a symbolic link to a
    file or a directory) outside it counts as absent.  Checksums and file reads run in worker threads,
    so a big file never holds up other requests; checksums are cached per file version.
    """
    root = Path(root)
    archive = LocalArchive(root)
    listing = LocalArchiveClient(root)
    faults = faults or ArchiveFaults()
    stats = _Stats()
    sums = _Checksums()
    counts: dict[str, int] = {}
    counts_lock = threading.Lock()

    def _inside(path: Path) -> bool:
        try:
            confined(path, root)
        except UnsafeName:
            return False
        return True

    def _path(name: str) -> Path | None:
        try:
            path = archive.file_path(name)  # a raw frame's name or calib/<DATE>/<master>: nothing else
        except FormatError:
            return None
        return path if path.is_file() and _inside(path) else None

    def _dates() -> list[str]:
        return [d.isoformat() for d in listing.list_dates() if _inside(root / d.isoformat())]

    def _files(night: date, with_sums: bool) -> list[dict[str, object]]:
        if not _inside(root / night.isoformat()):
            return []
        entries = [e for e in listing.list_files(night) if _inside(root / night.isoformat() / e.name)]
        return [{"name": e.name, "size": e.size,
                 "sha256": sums.of(root / night.isoformat() / e.name) if with_sums else None} for e in entries]

    async def dates(request: Request) -> Response:
        refused = _bad_query(request, {})
        return refused or JSONResponse(await run_in_threadpool(_dates))

    async def files(request: Request) -> Response:
        refused = _bad_query(request, {"date": None, "checksums": ("0", "1")})
        if refused:
            return refused
        try:
            night = date.fromisoformat(request.query_params.get("date", ""))
        except ValueError:
            return PlainTextResponse("date=YYYY-MM-DD required", status_code=400)
        with_sums = request.query_params.get("checksums") == "1"
        return JSONResponse(await run_in_threadpool(_files, night, with_sums))

    async def retrieve(request: Request) -> Response:
        refused = _bad_query(request, {"file_id": None, "processing": ("header",)})
        if refused:
            return refused
        name = request.query_params.get("file_id", "")
        path = await run_in_threadpool(_path, name)
        if path is None:
            return PlainTextResponse(f"no file {name}", status_code=404)
        if request.query_params.get("processing") == "header":
            try:
                return Response(await run_in_threadpool(primary_header_bytes, path),
                                media_type="application/octet-stream")
            except FormatError as exc:
                return PlainTextResponse(f"{name}: not a FITS file with a primary header ({exc.message})",
                                         status_code=422)
        with counts_lock:
            counts[name] = counts.get(name, 0) + 1
            attempt = counts[name]
        if attempt <= faults.fail_first.get(name, 0):
            return PlainTextResponse("archive busy (injected)", status_code=503)
        corrupt = attempt <= faults.corrupt_first.get(name, 0)
        checksum = await run_in_threadpool(sums.of, path)
        handle = path.open("rb")  # opened now: the file served is the one checked, whatever the path becomes
        size = os.fstat(handle.fileno()).st_size

        async def body() -> AsyncIterator[bytes]:
            stats.enter()
            try:
                if faults.delay:
                    await asyncio.sleep(faults.delay)
                first = True
                while chunk := await run_in_threadpool(handle.read, 1 << 20):
                    if corrupt and first:
                        chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                    first = False
                    yield chunk
            finally:
                handle.close()
                stats.leave()

        return StreamingResponse(body(), media_type="application/octet-stream",
                                 headers={"Content-Length": str(size), "X-Checksum-SHA256": checksum})

    async def stats_page(request: Request) -> Response:
        return JSONResponse({"requests": stats.requests, "max_concurrent": stats.max_active, "active": stats.active,
                             "checksums_computed": sums.computed, "checksums_running": sums.running})

    return Starlette(routes=[Route("/dates", dates), Route("/files", files), Route("/RETRIEVE", retrieve),
                             Route("/stats", stats_page)])
