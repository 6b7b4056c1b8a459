"""The archive server (``dfos archive serve``) as an attacker and a careless operator meet it: it never
follows symbolic links out of its directory, a big file's checksum holds up no other request and is
computed once, a header request for a corrupt frame is a 422 with a message, parameters are bounded."""

from __future__ import annotations

import json
import os
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from dfos.archive.server import ArchiveFaults, create_archive_app
from waiting import wait_until

NIGHT = "2013-02-12"
FRAME = "UVES.2013-02-12T20:00:00.000.fits"


class Server:
    """The app on a free loopback port, in a thread (what ``dfos archive serve`` runs)."""

    def __init__(self, root: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(create_archive_app(root, ArchiveFaults()), host="127.0.0.1", port=self.port,
                                log_level="error", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=20, interval=0.02, what="the archive server to start")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def get(url: str, timeout: float = 60) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get_json(url: str, timeout: float = 60) -> Any:
    status, body = get(url, timeout)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """An archive directory with one night of two small frames."""
    root = tmp_path / "archive"
    (root / NIGHT).mkdir(parents=True)
    (root / NIGHT / FRAME).write_bytes(b"SIMPLE  =                    T" + b" " * 50 + b"END" + b" " * 2797)
    (root / NIGHT / "UVES.2013-02-12T20:10:00.000.fits").write_bytes(b"\0" * 5760)
    return root


@pytest.fixture
def served(archive: Path) -> Iterator[str]:
    with Server(archive) as url:
        yield url


def test_symbolic_links_out_of_the_root_are_never_followed(archive: Path, served: str, tmp_path: Path) -> None:
    passwd = archive / NIGHT / "UVES.2013-02-12T21:00:00.000.fits"
    passwd.symlink_to("/etc/passwd")
    outside = tmp_path / "elsewhere" / "2013-02-13"
    outside.mkdir(parents=True)
    (outside / "UVES.2013-02-13T20:00:00.000.fits").write_bytes(b"secret" * 1000)
    (archive / "2013-02-13").symlink_to(outside, target_is_directory=True)  # a symlinked night
    inside = archive / NIGHT / "UVES.2013-02-12T22:00:00.000.fits"
    inside.symlink_to(archive / NIGHT / FRAME)  # a link inside the root is fine

    assert get(f"{served}/RETRIEVE?file_id={passwd.name}")[0] == 404
    assert get(f"{served}/RETRIEVE?file_id={passwd.name}&processing=header")[0] == 404
    assert get(f"{served}/RETRIEVE?file_id=UVES.2013-02-13T20:00:00.000.fits")[0] == 404
    assert get_json(f"{served}/dates") == [NIGHT]
    assert get_json(f"{served}/files?date=2013-02-13&checksums=1") == []
    names = [e["name"] for e in get_json(f"{served}/files?date={NIGHT}&checksums=1")]
    assert passwd.name not in names and inside.name in names
    status, body = get(f"{served}/RETRIEVE?file_id={inside.name}")
    assert status == 200 and body == (archive / NIGHT / FRAME).read_bytes()
    for name in ("../../../etc/passwd", "calib/2013-02-12/../../../etc/passwd", "/etc/passwd"):
        assert get(f"{served}/RETRIEVE?file_id={urllib.parse.quote(name, safe='')}")[0] == 404


def test_a_big_files_checksum_holds_up_no_other_request_and_is_computed_once(archive: Path, served: str) -> None:
    big = archive / NIGHT / "UVES.2013-02-12T23:00:00.000.fits"
    with big.open("wb") as handle:
        handle.truncate(3 << 30)  # 3 GB, sparse: its checksum takes seconds to compute
    listings: list[Any] = []
    lister = threading.Thread(target=lambda: listings.append(get_json(f"{served}/files?date={NIGHT}&checksums=1",
                                                                      timeout=600)))
    lister.start()
    wait_until(lambda: get_json(f"{served}/stats")["checksums_running"] or not lister.is_alive(), timeout=300,
               interval=0.005, what="the big file's checksum to be seen running")  # answered meanwhile
    assert lister.is_alive(), "the big file's checksum was never seen running"
    assert get_json(f"{served}/dates") == [NIGHT]  # other requests are answered meanwhile
    assert {e["name"] for e in get_json(f"{served}/files?date={NIGHT}")} >= {big.name, FRAME}
    assert get(f"{served}/RETRIEVE?file_id={FRAME}")[0] == 200
    lister.join(timeout=600)
    assert not lister.is_alive()
    computed = get_json(f"{served}/stats")["checksums_computed"]
    assert computed == 3 and len(listings[0]) == 3
    again = get_json(f"{served}/files?date={NIGHT}&checksums=1")  # from the cache: nothing computed again
    assert again == listings[0] and get_json(f"{served}/stats")["checksums_computed"] == computed
    os.utime(archive / NIGHT / FRAME, ns=(1, 1))  # a new version of a file is checksummed again
    get_json(f"{served}/files?date={NIGHT}&checksums=1", timeout=600)
    assert get_json(f"{served}/stats")["checksums_computed"] == computed + 1


def test_a_header_request_for_a_corrupt_frame_is_a_422(archive: Path, served: str) -> None:
    status, body = get(f"{served}/RETRIEVE?file_id=UVES.2013-02-12T20:10:00.000.fits&processing=header")
    assert status == 422 and b"no END card" in body
    status, body = get(f"{served}/RETRIEVE?file_id={FRAME}&processing=header")
    assert status == 200 and len(body) == 2880


def test_requests_and_parameters_are_bounded(served: str) -> None:
    assert get(f"{served}/RETRIEVE?file_id={'U' * 10_000}")[0] in (400, 414)
    assert get(f"{served}/RETRIEVE?file_id={FRAME}&processing=everything")[0] == 400
    assert get(f"{served}/files?date={NIGHT}&checksums=please")[0] == 400
    assert get(f"{served}/files?date={NIGHT}&evil=1")[0] == 400
    assert get(f"{served}/files?date={'9' * 600}")[0] == 400
    assert get(f"{served}/RETRIEVE?file_id={FRAME}&processing=header")[0] == 200
