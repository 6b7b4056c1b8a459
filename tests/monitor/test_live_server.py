"""The monitor behind a real uvicorn server on 127.0.0.1 (``dfos monitor serve``): long URLs with a
cookie get an answer, a huge form value does not freeze the server, a busy port fails cleanly."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from monitor_helpers import csrf_of, monitor_server, night_with_headers

from dfos.workspace import Workspace

PASSWORD = "server-test-pw"
#: Only to turn a hang into a failure.
HANG = 60.0


@pytest.fixture
def headers_night(uves_night: Workspace) -> Workspace:
    return night_with_headers(uves_night)


def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("DFOS_")},
            "DFOS_MONITOR_PASSWORD": PASSWORD, "DFOS_NOW": "2013-02-13T14:00:00"}


@pytest.fixture
def server(headers_night: Workspace) -> Iterator[int]:
    with monitor_server(headers_night.root, _env()) as port:  # waits until the server answers
        yield port


def _request(port: int, method: str, path: str, cookie: str = "", body: str = "",
             headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG)
    sent = {"Cookie": cookie} if cookie else {}
    if body:
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body or None, headers={**sent, **(headers or {})})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    return response


def _login(port: int) -> tuple[str, str]:
    """(the session cookie, the CSRF token)"""
    answer = _request(port, "POST", "/login", body=urlencode({"password": PASSWORD}))
    assert answer.status == 303
    cookie = answer.getheader("set-cookie", "").split(";")[0]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG)
    try:
        connection.request("GET", "/", headers={"Cookie": cookie})
        response = connection.getresponse()
        page = response.read().decode()
        cookie = (response.getheader("set-cookie") or cookie).split(";")[0]  # the session now holds its CSRF token
    finally:
        connection.close()
    return cookie, csrf_of(page)


def _raw(port: int, request: bytes, piece: int = 1000) -> bytes:
    """Send a request in pieces (as a slow client would), return the first bytes of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=HANG) as sock:
        try:
            for start in range(0, len(request), piece):
                sock.sendall(request[start:start + piece])
                time.sleep(0.002)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return sock.recv(200)
        except ConnectionResetError:
            return b""


def test_long_urls_with_a_cookie_get_an_answer(server: int) -> None:
    cookie, _ = _login(server)
    padding = "; extra=" + "c" * 7000  # a browser's other cookies for this host
    for size in (8 * 1024, 10 * 1024):
        path = "/abs/2013-02-12?raw_type=" + "x" * size
        answer = _raw(server, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}{padding}\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 200"), (size, answer)
    too_long = "/abs/2013-02-12?raw_type=" + "x" * 20_000
    answer = _raw(server, f"GET {too_long} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 414"), answer
    huge = f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}{padding * 6}\r\n\r\n".encode()
    assert _raw(server, huge).startswith(b"HTTP/1.1 431")


def test_a_huge_count_is_refused_at_once_and_others_are_served(server: int) -> None:
    cookie, csrf = _login(server)
    answers: dict[str, int] = {}

    def certify() -> None:
        body = urlencode({"count": "99999999999", "csrf": csrf})
        answers["certify"] = _request(server, "POST", "/certify/2013-02-12", cookie, body).status

    worker = threading.Thread(target=certify, daemon=True)
    worker.start()
    answers["other"] = _request(server, "GET", "/api/dates", cookie).status
    worker.join(HANG)
    assert answers == {"certify": 400, "other": 200}
    assert _request(server, "GET", "/api/dates", cookie).status == 200


def test_a_busy_port_fails_before_printing_the_login_url(headers_night: Workspace) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "dfos.cli.main", "--root", str(headers_night.root), "monitor",
                               "serve", "--port", str(port)], env=_env(), capture_output=True, text=True,
                              timeout=HANG, check=False)
    assert done.returncode == 3
    assert done.stdout == ""  # no URL, no token printed
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}")
