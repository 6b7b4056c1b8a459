"""The installation panel's facts: the executor the cascades run on, esorex and its pipelines."""

from __future__ import annotations

import shutil

from dfos.monitor.facts import installation
from dfos.workspace import Workspace, open_workspace


def test_the_installation_names_the_configured_executor_and_esorex(workspace: Workspace) -> None:
    assert installation(workspace)["executor"].startswith("local")
    facts = installation(open_workspace(workspace.root, env={"DFOS_EXECUTOR": "slurm"}))
    assert facts["executor"] == "Slurm (one sbatch job per AB)"
    condor = open_workspace(workspace.root, env={"DFOS_EXECUTOR": "condor"})
    assert installation(condor)["executor"].startswith("HTCondor DAGMan")
    assert facts["esorex"] == (shutil.which("esorex") or "")
    assert facts["esorex_version"].count(".") >= 1 and any(p.startswith("uves-") for p in facts["pipelines"])
