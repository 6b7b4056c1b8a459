"""Helpers of the monitor's tests: a night with headers, logging in, reading the CSRF token, forging cookies."""

from __future__ import annotations

import json
import re
from base64 import b64encode
from datetime import date

import itsdangerous
from starlette.testclient import TestClient

from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, open_workspace

NIGHT = date(2013, 2, 12)
NOW = "2013-02-13T14:00:00"


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
