"""Fixtures of the monitor's tests: a workspace with a night's headers."""

from __future__ import annotations

import pytest
from monitor_helpers import NIGHT, NOW

from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, open_workspace


@pytest.fixture
def headers_night(uves_night: Workspace) -> Workspace:
    """The small UVES night with its headers extracted and raw_Complete set."""
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": NOW})
    extract_headers(ws, NIGHT)
    append_flag(ws, "raw_Complete", NIGHT)
    return ws
