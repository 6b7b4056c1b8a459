"""``dfos archive serve DIR``: an archive directory over HTTP, in the protocol of
:mod:`dfos.archive.client` (modelled on NGAS's ``RETRIEVE``), plus ``/stats`` (requests served and
the most transfers that ran at once).

For tests the app can inject faults: fail the first N retrievals of a file (HTTP 503), corrupt a
file's bytes in transit, or hold each transfer for a while (so that concurrency shows).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from dfos.archive.client import LocalArchiveClient, primary_header_bytes
from dfos.archive.local import LocalArchive
from dfos.errors import FormatError
from dfos.fsutil import sha256_file

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
    """SHA-256 per file, computed once per (size, mtime)."""

    def __init__(self) -> None:
        self.known: dict[Path, tuple[int, int, str]] = {}
        self.lock = threading.Lock()

    def of(self, path: Path) -> str:
        info = path.stat()
        with self.lock:
            cached = self.known.get(path)
        if cached and cached[:2] == (info.st_size, info.st_mtime_ns):
            return cached[2]
        digest = sha256_file(path)
        with self.lock:
            self.known[path] = (info.st_size, info.st_mtime_ns, digest)
        return digest


def create_archive_app(root: Path, faults: ArchiveFaults | None = None) -> Starlette:
    """The archive server of a directory laid out as :class:`dfos.archive.local.LocalArchive`."""
    archive = LocalArchive(root)
    listing = LocalArchiveClient(root)
    faults = faults or ArchiveFaults()
    stats = _Stats()
    sums = _Checksums()
    counts: dict[str, int] = {}
    counts_lock = threading.Lock()

    def _path(name: str) -> Path | None:
        try:
            path = archive.file_path(name)  # a raw frame's name or calib/<DATE>/<master>: nothing else
        except FormatError:
            return None
        return path if path.is_file() else None

    async def dates(request: Request) -> Response:
        return JSONResponse([d.isoformat() for d in listing.list_dates()])

    async def files(request: Request) -> Response:
        try:
            night = date.fromisoformat(request.query_params.get("date", ""))
        except ValueError:
            return PlainTextResponse("date=YYYY-MM-DD required", status_code=400)
        with_sums = request.query_params.get("checksums") == "1"
        entries = listing.list_files(night)
        return JSONResponse([{"name": e.name, "size": e.size,
                              "sha256": sums.of(root / night.isoformat() / e.name) if with_sums else None}
                             for e in entries])

    async def retrieve(request: Request) -> Response:
        name = request.query_params.get("file_id", "")
        path = _path(name)
        if path is None:
            return PlainTextResponse(f"no file {name}", status_code=404)
        if request.query_params.get("processing") == "header":
            return Response(primary_header_bytes(path), media_type="application/octet-stream")
        with counts_lock:
            counts[name] = counts.get(name, 0) + 1
            attempt = counts[name]
        if attempt <= faults.fail_first.get(name, 0):
            return PlainTextResponse("archive busy (injected)", status_code=503)
        corrupt = attempt <= faults.corrupt_first.get(name, 0)
        checksum = sums.of(path)

        async def body() -> AsyncIterator[bytes]:
            stats.enter()
            try:
                if faults.delay:
                    await asyncio.sleep(faults.delay)
                first = True
                with path.open("rb") as handle:
                    while chunk := handle.read(1 << 20):
                        if corrupt and first:
                            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                        first = False
                        yield chunk
            finally:
                stats.leave()

        return StreamingResponse(body(), media_type="application/octet-stream",
                                 headers={"Content-Length": str(path.stat().st_size), "X-Checksum-SHA256": checksum})

    async def stats_page(request: Request) -> Response:
        return JSONResponse({"requests": stats.requests, "max_concurrent": stats.max_active, "active": stats.active})

    return Starlette(routes=[Route("/dates", dates), Route("/files", files), Route("/RETRIEVE", retrieve),
                             Route("/stats", stats_page)])
