"""The monitor's URL table: every handler behind an access check, and no database or file work on the
event loop (a blocked loop would hold up every other request of the server)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import pytest
from monitor_helpers import NIGHT, night_with_headers
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from dfos.db import engine_for_url
from dfos.keys import Mode
from dfos.monitor import queries
from dfos.monitor.app import create_app
from dfos.monitor.routes import routes
from dfos.monitor.security import access, sessions
from dfos.steps.create_ab import create_abs
from dfos.workspace import Workspace

TOKEN = "routes-token"


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_every_handler_is_a_plain_function_behind_an_access_check() -> None:
    """readable/changing check the login (and CSRF), then run the plain handler in a worker thread."""
    for route in routes():
        if isinstance(route, Mount):
            assert route.path == "/static"  # StaticFiles reads its files in worker threads itself
            continue
        assert isinstance(route, Route)
        if route.endpoint is access.login:  # async, but its hashing, session, template and audit work is threaded
            continue
        handler = inspect.unwrap(route.endpoint)
        assert handler is not route.endpoint, f"{route.path}: not wrapped by readable or changing"
        assert not inspect.iscoroutinefunction(handler), f"{route.path}: an async handler would run on the loop"


def test_no_database_or_key_file_work_on_the_event_loop(uves_night: Workspace,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ws = night_with_headers(uves_night)
    create_abs(ws, NIGHT, Mode.CALIB)
    ab = next(ws.ab_dir.glob("*.ab")).name
    seen: list[tuple[str, bool]] = []

    def watched(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen.append((name, _on_event_loop()))
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(queries, "engine_for_url", watched("database", engine_for_url))
    monkeypatch.setattr(sessions, "_stamp", watched("session key", sessions._stamp))
    monkeypatch.setattr(sessions.SessionTable, "_read", watched("session table", sessions.SessionTable._read))
    with TestClient(create_app(ws, token=TOKEN), base_url="http://127.0.0.1") as client:
        assert client.get(f"/login?token={TOKEN}").status_code == 200
        for url in ("/", "/abs/2013-02-12", "/api/abs/2013-02-12", "/api/dates", f"/ab/{ab}", "/history",
                    "/file?path=monitor/DFO_STATUS", "/todo/JOBS_NIGHT", "/certify/2013-02-12"):
            assert client.get(url).status_code == 200, url
    assert {name for name, _ in seen} == {"database", "session key", "session table"}
    assert [name for name, on_loop in seen if on_loop] == []


def test_the_mode_parameter_takes_any_case_and_falls_back_to_calib(uves_night: Workspace) -> None:
    ws = night_with_headers(uves_night)
    with TestClient(create_app(ws, token=TOKEN), base_url="http://127.0.0.1") as client:
        client.get(f"/login?token={TOKEN}")
        assert "<h1>AB monitor SCIENCE 2013-02-12</h1>" in client.get("/abs/2013-02-12?mode=science").text
        assert "<h1>AB monitor CALIB 2013-02-12</h1>" in client.get("/abs/2013-02-12?mode=bogus").text
        assert "<h1>AB monitor CALIB 2013-02-12</h1>" in client.get("/abs/2013-02-12").text
