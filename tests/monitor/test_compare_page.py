"""The compare page of a public monitor (MONITOR_PUBLIC): it shows its form to anyone, but reads another
workspace of the machine only for a logged-in person."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from dfos.monitor.app import create_app
from dfos.workspace import Workspace, init_workspace, open_workspace


def test_a_public_monitor_compares_with_another_workspace_only_after_login(workspace: Workspace,
                                                                         tmp_path: Path) -> None:
    other, _ = init_workspace(tmp_path / "other", env={}, instrument="UVES")
    public = open_workspace(workspace.root, env={"DFOS_MONITOR_PUBLIC": "true"})
    with TestClient(create_app(public, token="tok"), base_url="http://127.0.0.1") as client:
        assert client.get("/compare").status_code == 200
        refused = client.get("/compare", params={"b": str(other.root)})
        assert refused.status_code == 403 and "log in to compare" in refused.text
        assert client.get("/login?token=tok").status_code == 200
        allowed = client.get("/compare", params={"b": str(other.root)})
        assert allowed.status_code == 200 and "/other" in allowed.text
