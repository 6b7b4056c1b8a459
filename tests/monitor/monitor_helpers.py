"""Helpers of the monitor's tests: a night with headers, a real server (``dfos monitor serve``) that is
waited for, logging in, reading the CSRF token, forging cookies."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TypeVar

import itsdangerous
from starlette.testclient import TestClient

from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, open_workspace

NIGHT = date(2013, 2, 12)
NOW = "2013-02-13T14:00:00"
#: Only to turn a server that never answers into a failure (a slow machine just waits longer).
SERVER_START = 60.0

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 60.0, interval: float = 0.05,
               what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy and return that; an AssertionError naming
    ``what`` after ``timeout`` seconds (a hang guard, not a speed assumption)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last value: {value!r})")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str, server: subprocess.Popen[bytes]) -> bool:
    """Whether the server answers HTTP at ``url`` (the login page needs no login); fails at once when it
    has exited."""
    code = server.poll()
    if code is not None:
        raise AssertionError(f"dfos monitor serve exited with code {code} before answering")
    try:
        with urllib.request.urlopen(f"{url}/login", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def monitor_server(root: Path, env: dict[str, str]) -> Iterator[int]:
    """``dfos monitor serve`` on a free port of 127.0.0.1, yielded (its port) once it answers HTTP."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "dfos.cli.main", "--root", str(root), "monitor", "serve",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}", server), timeout=SERVER_START,
                   what=f"the monitor on port {port} to answer")
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a frozen server does not stop on SIGTERM
            server.kill()
            server.wait()


def night_with_headers(uves_night: Workspace) -> Workspace:
    """The small UVES night with its headers extracted and raw_Complete set."""
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": NOW})
    extract_headers(ws, NIGHT)
    append_flag(ws, "raw_Complete", NIGHT)
    return ws


def csrf_of(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, "no CSRF token on the page"
    return found[1]


def log_in(client: TestClient, password: str) -> str:
    """Log in with the password form; return the session's CSRF token."""
    response = client.post("/login", data={"password": password})
    assert response.status_code == 200 and 'id="logout"' in response.text, response.text[:300]
    return csrf_of(response.text)


def forge_cookie(key: str, session: dict[str, object]) -> str:
    """A session cookie signed the way the monitor signs its own (Starlette's SessionMiddleware)."""
    data = b64encode(json.dumps(session).encode("utf-8"))
    return itsdangerous.TimestampSigner(key).sign(data).decode("utf-8")
