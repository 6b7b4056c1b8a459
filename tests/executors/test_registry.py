"""Executor plugins: the built-ins, entry points of other packages, and what the CLI, the configuration
and the monitor take from them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from dfos.cli.main import main
from dfos.config.load import load_config
from dfos.errors import ConfigError, UsageError
from dfos.executors import registry
from dfos.executors.condor import CondorExecutor
from dfos.executors.local import LocalExecutor
from dfos.executors.registry import BUILTIN, ExecutorPlugin, collect, get_executor, label
from dfos.executors.slurm import SlurmExecutor
from dfos.plugins import EXECUTORS, entry_point_names
from dfos.workspace import Workspace, open_workspace

PLUGIN = '''
from dfos.executors.local import LocalExecutor
from dfos.executors.registry import ExecutorPlugin

PLUGIN = ExecutorPlugin("pbs", "PBS (one qsub job per AB)", True, lambda site, run_ab: LocalExecutor(run_ab))
NOT_A_PLUGIN = 42
'''


@pytest.fixture
def pbs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EntryPoint]]:
    """A package ``dfos_pbs`` that registers the executor ``pbs`` under ``dfos.executors``."""
    (tmp_path / "dfos_pbs.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint("pbs", "dfos_pbs:PLUGIN", "dfos.executors"),
           EntryPoint("local", "dfos.executors.registry:LOCAL", "dfos.executors")]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: [e for e in eps if e.group == group])
    entry_point_names.cache_clear()
    registry._scan.cache_clear()
    yield eps
    entry_point_names.cache_clear()
    registry._scan.cache_clear()
    sys.modules.pop("dfos_pbs", None)


def test_the_built_ins_are_the_names_the_configuration_knows() -> None:
    assert tuple(BUILTIN) == EXECUTORS.builtin == ("local", "slurm", "condor")
    assert [p.batch for p in BUILTIN.values()] == [False, True, True]
    assert registry.names()[:3] == ("local", "slurm", "condor")


def test_an_entry_point_plugin_joins_the_built_ins(pbs: list[EntryPoint]) -> None:
    broken = [EntryPoint("broken", "no_such_module:X", "dfos.executors"),
              EntryPoint("odd", "dfos_pbs:NOT_A_PLUGIN", "dfos.executors")]
    found = collect([*pbs, *broken])
    assert list(found) == ["local", "slurm", "condor", "pbs"]
    assert found["local"] is BUILTIN["local"] and isinstance(found["pbs"], ExecutorPlugin)
    assert get_executor("PBS").label == "PBS (one qsub job per AB)" and registry.names()[-1] == "pbs"
    assert EXECUTORS.knows("pbs") and not EXECUTORS.knows("lsf")


def test_an_unknown_executor_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(UsageError, match="unknown executor 'lsf': local, slurm or condor"):
        get_executor("lsf")
    assert label("lsf") == "lsf"


def test_the_monitor_labels_come_from_the_plugins() -> None:
    assert label("local") == "local (dfos exec-cascade, this machine)"
    assert label("slurm") == "Slurm (one sbatch job per AB)"
    assert label("condor") == "HTCondor DAGMan (one DAG per cascade)"


def test_each_built_in_is_set_up_from_the_workspace(workspace: Workspace) -> None:
    ws = open_workspace(workspace.root, env={"DFOS_BATCH_RESOURCES": "*=2/1G/", "DFOS_RECIPE_LIMITS": "a=1",
                                             "DFOS_BATCH_DFOS": "/opt/dfos/bin/dfos"})
    local = get_executor("local").make(ws, lambda task, on_start: (True, 0, ""))
    assert isinstance(local, LocalExecutor) and not local.batch
    local.close()
    slurm = get_executor("slurm").make(ws, lambda task, on_start: (True, 0, ""))
    assert isinstance(slurm, SlurmExecutor) and slurm.resources["*"].cpus == 2
    assert slurm.command == ["/opt/dfos/bin/dfos", "--root", str(ws.root)]
    condor = get_executor("condor").make(ws, lambda task, on_start: (True, 0, ""))
    assert isinstance(condor, CondorExecutor) and condor.limits == {"a": 1}
    assert condor.job_dir == ws.job_dir / "batch"


def test_the_configuration_and_the_command_line_take_the_plugins_names(pbs: list[EntryPoint],
                                                                        workspace: Workspace,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert load_config(None, env={"DFOS_EXECUTOR": "PBS"}).settings.EXECUTOR == "pbs"
    with pytest.raises(ConfigError, match="EXECUTOR must be local, slurm, condor or pbs, not 'lsf'"):
        load_config(None, env={"DFOS_EXECUTOR": "lsf"})
    assert main(["--root", str(workspace.root), "exec-cascade", "--help"]) == 0
    assert "[local|slurm|condor|pbs]" in capsys.readouterr().out
    code = main(["--root", str(workspace.root), "exec-cascade", "--dag-id", "X", "--jobs", "j", "--executor", "lsf"])
    assert code == 2 and "'lsf' is not one of 'local', 'slurm', 'condor', 'pbs'" in capsys.readouterr().err
