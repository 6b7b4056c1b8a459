"""Archive clients against a real ``dfos archive serve`` app on loopback (uvicorn), and the local one."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import uvicorn

from dfos.archive.client import HttpArchiveClient, LocalArchiveClient, TransferError, download
from dfos.archive.server import ArchiveFaults, create_archive_app
from dfos.workspace import Workspace
from waiting import wait_until

NIGHT = date(2013, 2, 12)


class Server:
    def __init__(self, root: Path, faults: ArchiveFaults) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(create_archive_app(root, faults), host="127.0.0.1", port=self.port,
                                log_level="error", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=20, interval=0.02, what="the archive server to start")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def archive(uves_small_archive: Path) -> Path:
    return uves_small_archive


@pytest.fixture
def served(archive: Path) -> Iterator[tuple[str, ArchiveFaults]]:
    faults = ArchiveFaults()
    with Server(archive, faults) as url:
        yield url, faults


def _stats(url: str) -> dict[str, int]:
    """The server's own count of requests and of transfers that ran at once."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{url}/stats", timeout=10) as response:
        return dict(json.loads(response.read()))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_listing_and_headers_match_the_local_archive(served: tuple[str, ArchiveFaults], archive: Path) -> None:
    url, _ = served
    http, local = HttpArchiveClient(url), LocalArchiveClient(archive)
    assert http.list_dates() == local.list_dates() != []
    night = local.list_dates()[0]
    assert http.list_files(night, checksums=True) == local.list_files(night, checksums=True)
    name = local.list_files(night)[0].name
    header = http.fetch_header(name)
    assert header == local.fetch_header(name) and len(header) % 2880 == 0 and b"END     " in header
    with pytest.raises(TransferError, match="HTTP 404"):
        http.fetch_header("UVES.2000-01-01T00:00:00.000.fits")


def test_parallel_download_is_bounded_and_verified(served: tuple[str, ArchiveFaults], archive: Path,
                                                   tmp_path: Path) -> None:
    url, faults = served
    faults.delay = 0.15  # transfers overlap, so the server sees how many run at once
    names = [e.name for night in LocalArchiveClient(archive).list_dates()
             for e in LocalArchiveClient(archive).list_files(night)]
    assert len(names) >= 20
    seen: list[tuple[int, int]] = []
    paths = download(HttpArchiveClient(url), names, tmp_path / "raw", parallel=3,
                     progress=lambda d, t: seen.append((d, t)))
    assert sorted(p.name for p in paths) == sorted(names)
    for path in paths:
        assert _sha(path) == _sha(next(archive.rglob(path.name)))
    doc = _stats(url)
    assert doc["max_concurrent"] == 3 and doc["requests"] == len(names)
    assert seen[-1] == (len(names), len(names))
    again = download(HttpArchiveClient(url), names, tmp_path / "raw", parallel=3)  # all there: nothing fetched
    assert len(again) == len(names) and _stats(url)["requests"] == len(names)


def test_failures_are_retried_and_corruption_is_caught(served: tuple[str, ArchiveFaults], archive: Path,
                                                      tmp_path: Path) -> None:
    url, faults = served
    names = [e.name for e in LocalArchiveClient(archive).list_files(LocalArchiveClient(archive).list_dates()[0])][:3]
    faults.fail_first[names[0]] = 2  # two HTTP 503 before it works
    faults.corrupt_first[names[1]] = 1  # one corrupted transfer, caught by the checksum
    waits: list[float] = []
    paths = download(HttpArchiveClient(url), names, tmp_path / "raw", parallel=2, retries=3, backoff=0.1,
                     sleep=waits.append)
    assert [_sha(p) for p in paths] == [_sha(next(archive.rglob(n))) for n in names]
    assert sorted(waits) == [0.1, 0.1, 0.2]  # backoff doubles
    faults.corrupt_first[names[2]] = 10  # always corrupted: fails after the retries, nothing left behind
    with pytest.raises(TransferError, match="checksum"):
        download(HttpArchiveClient(url), [names[2]], tmp_path / "bad", retries=2, sleep=lambda _: None)
    assert list((tmp_path / "bad").iterdir()) == []


def test_a_workspace_takes_a_night_in_over_http(served: tuple[str, ArchiveFaults], archive: Path,
                                                workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from dfos.cli.main import main

    url, _ = served
    root = ["--root", str(workspace.root), "--set", f"ARCHIVE_URL={url}"]
    assert not any(workspace.archive_dir.iterdir())  # nothing local: everything comes over HTTP
    assert main([*root, "download", "-d", "2013-02-12", "--headers"]) == 0
    headers = sorted(p.name for p in (workspace.hdr_dir / "2013-02-12").glob("*.hdr"))
    assert len(headers) == 23 and "23 headers (23 new)" in capsys.readouterr().out
    assert main([*root, "download", "-d", "2013-02-12", "--parallel", "4"]) == 0
    raws = sorted((workspace.raw_dir / "2013-02-12").glob("*.fits"))
    assert [p.stem for p in raws] == [h.removesuffix(".hdr") for h in headers]
    for path in raws:
        assert _sha(path) == _sha(next(archive.rglob(path.name)))
    code = main(["--root", str(workspace.root), "--set", "ARCHIVE_URL=ftp://x", "download", "-d", "2013-02-12"])
    assert code == 2 and "ARCHIVE_URL must be an http" in capsys.readouterr().err  # --set: a usage error


def test_certified_masters_come_back_over_http_verified(tmp_path: Path, workspace: Workspace) -> None:
    import numpy as np
    from astropy.io import fits

    from dfos.archive.client import MissingFile
    from dfos.steps.fetch import fetch_masters, restore_master
    from dfos.workspace import open_workspace

    root = tmp_path / "archive"
    master = root / "calib" / "2013-02-12" / "UV_MBIA_130212A_BLUE.fits"
    master.parent.mkdir(parents=True)
    fits.PrimaryHDU(np.arange(400, dtype=np.float32).reshape(20, 20)).writeto(master)
    (tmp_path / "secret.txt").write_text("not for the archive's clients\n")
    faults = ArchiveFaults(corrupt_first={"calib/2013-02-12/UV_MBIA_130212A_BLUE.fits": 1})
    with Server(root, faults) as url:
        ws = open_workspace(workspace.root, env={"DFOS_ARCHIVE_URL": url, "DFOS_DOWNLOAD_RETRIES": "2"})
        target = ws.cal_dir / "2013-02-12" / master.name
        assert restore_master(ws, target)  # the corrupted first transfer was caught and tried again
        assert _sha(target) == _sha(master) and not list(target.parent.glob(".*"))
        assert not restore_master(ws, ws.cal_dir / "2013-02-12" / "UV_MBIA_130212B_BLUE.fits")
        target.unlink()
        assert fetch_masters(ws, ["2013-02-12/UV_MBIA_130212A_BLUE.fits"], 2) == [target]
        client = HttpArchiveClient(url)
        for elsewhere in ("../secret.txt", "calib/2013-02-12/../../secret.txt", "calib/x/secret.txt",
                          "calib/2013-02-12/a/b.fits", "/etc/passwd"):
            with pytest.raises(MissingFile):
                client.fetch_into(elsewhere, tmp_path / "got")
    assert not (tmp_path / "got").exists()  # refused before anything was written


def test_the_archive_s_retry_after_is_waited(served: tuple[str, ArchiveFaults], archive: Path, tmp_path: Path) -> None:
    url, faults = served
    name = LocalArchiveClient(archive).list_files(LocalArchiveClient(archive).list_dates()[0])[0].name
    faults.fail_first[name], faults.retry_after = 2, "3"  # busy twice, asking for 3 s each time
    waits: list[float] = []
    (path,) = download(HttpArchiveClient(url), [name], tmp_path, retries=3, backoff=0.1, sleep=waits.append)
    assert waits == [3.0, 3.0] and _sha(path) == _sha(next(archive.rglob(name)))


def test_downloads_share_kept_alive_connections(served: tuple[str, ArchiveFaults], archive: Path,
                                                tmp_path: Path) -> None:
    url, _ = served
    local = LocalArchiveClient(archive)
    names = [e.name for night in local.list_dates() for e in local.list_files(night)]
    client = HttpArchiveClient(url)
    client.list_dates()
    download(client, names, tmp_path, parallel=3)
    pool = client._manager().connection_from_url(url)
    assert pool.num_connections <= 3 < len(names)  # not one connection per file


class _ShortBody(BaseHTTPRequestHandler):
    """Answers every request with a body 10 bytes short of its Content-Length the first time."""

    served = 0

    def do_GET(self) -> None:
        type(self).served += 1
        body = b"x" * 100
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:90] if type(self).served == 1 else body)
        self.close_connection = True

    def log_message(self, *_: object) -> None:
        pass


def test_a_body_shorter_than_its_length_is_caught_and_tried_again(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ShortBody)  # no checksum header: only the length tells
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        waits: list[float] = []
        (path,) = download(HttpArchiveClient(f"http://127.0.0.1:{server.server_address[1]}"), ["F.fits"], tmp_path,
                           backoff=0.1, sleep=waits.append)
    finally:
        server.shutdown()
        server.server_close()
    assert path.read_bytes() == b"x" * 100 and waits == [0.1] and _ShortBody.served == 2


def test_an_unreachable_archive_says_why() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there
    with pytest.raises(TransferError, match=rf"^http://127\.0\.0\.1:{port}/dates: .*Connection refused"):
        HttpArchiveClient(f"http://127.0.0.1:{port}", timeout=5).list_dates()


def test_a_client_closes_its_connections_when_dropped(served: tuple[str, ArchiveFaults]) -> None:
    import gc
    import warnings

    url, _ = served
    client = HttpArchiveClient(url)
    client.list_dates()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del client
        gc.collect()  # no "unclosed socket" from a kept-alive connection
