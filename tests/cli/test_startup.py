"""A fast start (issue 16): what ``dfos --help`` and ``dfos process-ab`` import before they act.

Not timed (benchmarks/startup.py measures): these tests run the command in a fresh interpreter and look at
``sys.modules`` — after ``dfos --help``, and at the moment process-ab spawns its esorex — so that a heavy
import creeping back into a module the start needs fails here, with the module's name.  They also check that
the lazy command table (:data:`dfos.cli.main.COMMANDS`) says of each command what the command says of itself.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import dfos
import dfos.cli.commands
from chains import write_chain
from dfos.cli.lazy import LazyCommands
from dfos.cli.main import COMMANDS, cli
from dfos.workspace import Workspace

#: Packages a start must not import: each costs tens of milliseconds (astropy and SQLAlchemy over 100 ms).
HEAVY = ("astropy", "numpy", "matplotlib", "sqlalchemy", "starlette", "uvicorn", "jinja2", "rich", "PIL")

SLEEP_RECIPE = Path(__file__).resolve().parents[2] / "benchmarks" / "sleep_recipe.sh"

#: Runs the command line in a fresh interpreter and writes {"code", "modules"} to argv[1]: the modules loaded
#: when the first subprocess (esorex) was spawned, else at the end.
CHILD = """
import json, subprocess, sys
from dfos.cli.main import main
seen = []
class Spy(subprocess.Popen):
    def __init__(self, args, *rest, **options):
        if not seen:
            seen.append(sorted(sys.modules))
        super().__init__(args, *rest, **options)
subprocess.Popen = Spy
code = main(sys.argv[2:])
json.dump({"code": code, "spawned": bool(seen), "modules": seen[0] if seen else sorted(sys.modules)},
          open(sys.argv[1], "w"))
"""


def fresh_run(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[int, bool, list[str], str]:
    """(exit code, spawned?, modules, stdout) of ``dfos argv`` in a fresh interpreter using these sources."""
    source = str(Path(dfos.__file__).resolve().parents[1])
    environ = {**os.environ, **(env or {}),
               "PYTHONPATH": os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])}
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(report), *argv], env=environ, capture_output=True,
                          text=True, timeout=120, check=False)
    assert report.is_file(), proc.stderr
    found = json.loads(report.read_text())
    return int(found["code"]), bool(found["spawned"]), list(found["modules"]), proc.stdout


def heavy(modules: list[str]) -> list[str]:
    return sorted({name.partition(".")[0] for name in modules} & set(HEAVY))


def test_help_imports_no_command_and_nothing_heavy(tmp_path: Path) -> None:
    code, _, modules, out = fresh_run(tmp_path, "--help")
    assert code == 0
    assert heavy(modules) == []
    assert [m for m in modules if m.startswith("dfos.cli.commands.")] == []
    listed = [line.split()[0] for line in out.split("Commands:\n", 1)[1].splitlines() if line.startswith("  ")]
    assert listed == sorted(COMMANDS)


def test_the_dfos_names_import_no_command_either() -> None:
    """``processAB`` and ``processQC`` (job files), ``python -m dfos``: the same light start as ``dfos``."""
    source = str(Path(dfos.__file__).resolve().parents[1])
    show = "import sys, dfos.cli.aliases, dfos.__main__; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", show], env={**os.environ, "PYTHONPATH": source}, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    assert heavy(out) == [] and [m for m in out if m.startswith("dfos.cli.commands.")] == []


@pytest.mark.parametrize("extra", [(), ("--dag-id", "CALIB_2013-02-12", "--attempt", "1")],
                         ids=["by-hand", "batch-job"])
def test_process_ab_spawns_esorex_before_any_heavy_import(tmp_path: Path, workspace: Workspace,
                                                           extra: tuple[str, ...]) -> None:
    """By hand and as a batch job (--dag-id, --attempt): astropy, SQLAlchemy and the rest come after the
    recipe started (the run record, processQC), never before."""
    write_chain(workspace, 1, 0, recipe="noop")
    code, spawned, modules, _ = fresh_run(tmp_path, "--root", str(workspace.root), "process-ab", "-a", "C0.ab",
                                          *extra, env={"DFOS_ESOREX": str(SLEEP_RECIPE)})
    assert code == 0 and spawned
    assert heavy(modules) == []
    assert [m for m in modules if m.startswith("dfos.cli.commands.")] == ["dfos.cli.commands.processing"]


def test_every_command_is_in_the_table_with_its_own_summary() -> None:
    """COMMANDS lists each top-level command of dfos.cli.commands under its own name, and its summary is the
    first paragraph of the command's help, so that 'dfos --help' shows what the loaded command would."""
    defined = {}
    for info in pkgutil.iter_modules(dfos.cli.commands.__path__):
        module = importlib.import_module(f"dfos.cli.commands.{info.name}")
        commands = {name: obj for name, obj in vars(module).items() if isinstance(obj, click.Command)}
        nested = {id(sub) for obj in commands.values() if isinstance(obj, click.Group) for sub in obj.commands.values()}
        defined.update({f"{module.__name__}:{name}": obj for name, obj in commands.items() if id(obj) not in nested})
    assert sorted(entry.target for entry in COMMANDS.values()) == sorted(defined)
    for name, entry in COMMANDS.items():
        command = entry.load()
        assert command is defined[entry.target] and command.name == name
        assert entry.summary == " ".join(inspect.cleandoc(command.help or "").split("\n\n")[0].split()), name
        stand_in = click.Command(name, help=entry.summary)
        for limit in (20, 45, 60, 94, 500):
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (name, limit)


def test_the_group_help_is_the_same_with_every_command_loaded() -> None:
    lazy = CliRunner().invoke(cli, ["--help"], terminal_width=100, prog_name="dfos").output
    loaded = click.Group("dfos", params=cli.params, help=cli.help,
                         context_settings=cli.context_settings, commands={n: e.load() for n, e in COMMANDS.items()})
    assert lazy == CliRunner().invoke(loaded, ["--help"], terminal_width=100, prog_name="dfos").output


def test_lazy_commands_is_a_mapping_that_loads_on_lookup() -> None:
    table = LazyCommands({"env": COMMANDS["env"]})
    assert list(table) == ["env"] and len(table) == 1 and "env" in table
    assert table.for_listing("env").help == COMMANDS["env"].summary  # a stand-in: nothing imported for it
    command = table["env"]
    assert command.name == "env" and table.for_listing("env") is command
    extra = click.Command("extra")
    table["extra"] = extra
    assert sorted(table) == ["env", "extra"] and table["extra"] is extra
    del table["env"]
    assert list(table) == ["extra"] and table.get("env") is None
    with pytest.raises(KeyError):
        del table["env"]
