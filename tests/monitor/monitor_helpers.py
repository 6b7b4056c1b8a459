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
from typing import Any, TypeVar

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


def log_in_token(client: TestClient, token: str) -> str:
    """Log in with the printed token (``/login?token=``); return the session's CSRF token."""
    response = client.get(f"/login?token={token}")
    assert response.status_code == 200 and 'id="logout"' in response.text, response.text[:300]
    return csrf_of(response.text)


def forge_cookie(key: str, session: dict[str, object]) -> str:
    """A session cookie signed the way the monitor signs its own (Starlette's SessionMiddleware)."""
    data = b64encode(json.dumps(session).encode("utf-8"))
    return itsdangerous.TimestampSigner(key).sign(data).decode("utf-8")


#: The NACO header night's SCIENCE AB (naco_img_jitter) and the CALIB AB whose flat it reads (by=).
SCIENCE_AB = "NACO.2013-02-13T00:06:00.345_tpl.ab"
FLAT_AB = "NACO.2013-02-12T22:36:00.234_tpl.ab"


def science_night(root: Path) -> Workspace:
    """A NACO workspace with the synthetic header night of 2013-02-12 listed on the monitor (raw directory,
    fits_Requested, raw_Complete) and its CALIB ABs created (8, cal_AB); its 2 SCIENCE ABs not yet:
    ``create_abs(ws, NIGHT, Mode.SCIENCE)`` makes them (sci_AB).  Headers only: nothing can be processed."""
    from dfos.keys import Mode
    from dfos.steps.create_ab import create_abs
    from dfos.steps.demo_data import write_demo_headers
    from dfos.workspace import init_workspace

    init_workspace(root, env={}, instrument="NACO")
    ws = open_workspace(root, env={"DFOS_NOW": NOW})
    write_demo_headers(ws, NIGHT)
    (ws.raw_dir / NIGHT.isoformat()).mkdir(parents=True, exist_ok=True)
    append_flag(ws, "fits_Requested", NIGHT)
    append_flag(ws, "raw_Complete", NIGHT)
    create_abs(ws, NIGHT, Mode.CALIB)
    return ws


def decide(ws: Workspace, ab: str, decision: str, by: str = "qc-scientist", comment: str = "") -> None:
    """A certification decision row, as certify writes it (the newest row of an AB stands)."""
    from sqlalchemy import insert

    from dfos.db import certifications, engine_for_url

    with engine_for_url(ws.db_url).begin() as db:
        db.execute(insert(certifications).values(ab=ab, decision=decision, by=by, at="2013-02-13T10:00:00",
                                                 comment=comment))


#: Debian's Chromium, which the browser tests drive through Playwright.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium started by Playwright (headless), as every browser test starts it."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
