"""Executor plugins: the built-in ones (local, slurm, condor) and those registered under the entry-point
group ``dfos.executors``.

An executor plugin is an :class:`ExecutorPlugin`: its name (the value of ``EXECUTOR`` and of
``exec-cascade --executor``), a label for the monitor, whether it is a batch engine, and a factory
that builds the executor for a workspace.  A package adds one by naming such an object::

    [project.entry-points."dfos.executors"]
    pbs = "dfos_pbs:PLUGIN"

The names are also known below this layer (:data:`dfos.plugins.EXECUTORS`), so the configuration can
check ``EXECUTOR`` without importing any executor.  The built-in executors are imported only when one
is made: listing them costs nothing.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dfos.config.settings import Settings
from dfos.errors import UsageError
from dfos.executors.base import Executor
from dfos.plugins import EXECUTORS

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from dfos.executors.local import ABRunner

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "ExecutorPlugin", "Site", "available", "collect", "dfos_command",
           "get_executor", "label", "make_executor", "names"]

#: Entry-point group under which other packages register executors.
ENTRY_POINT_GROUP = EXECUTORS.group

log = logging.getLogger(__name__)


class Site(Protocol):
    """What an executor is built from: a workspace (:class:`dfos.workspace.Workspace` is one)."""

    @property
    def root(self) -> Path: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def job_dir(self) -> Path: ...


@dataclass(frozen=True)
class ExecutorPlugin:
    """One way to run the ABs of a cascade."""

    name: str
    """Lower case; what ``EXECUTOR`` and ``--executor`` say."""
    label: str
    """What the monitor's installation panel shows, e.g. ``HTCondor DAGMan (one DAG per cascade)``."""
    batch: bool
    """A batch engine: takes the whole cascade at once, its jobs outlive dfos (:attr:`Executor.batch`)."""
    make: Callable[[Site, ABRunner], Executor]
    """Build the executor for a workspace; ``ABRunner`` runs an AB in this process (the local executor)."""


def dfos_command(site: Site) -> list[str]:
    """How a batch job starts dfos on this workspace: BATCH_DFOS (else the dfos running now) --root ROOT."""
    if site.settings.BATCH_DFOS:
        program = shlex.split(site.settings.BATCH_DFOS)
    else:
        beside = Path(sys.argv[0]).resolve().parent / "dfos" if sys.argv and sys.argv[0] else None
        script = beside if beside and beside.is_file() else Path(sys.executable).parent / "dfos"
        program = [str(script)] if script.is_file() else [sys.executable, "-m", "dfos"]
    return [*program, "--root", str(site.root)]


def _local(_site: Site, run_ab: ABRunner) -> Executor:
    from dfos.executors.local import LocalExecutor

    return LocalExecutor(run_ab)


def _slurm(site: Site, _run_ab: ABRunner) -> Executor:
    from dfos.executors.slurm import SlurmExecutor

    settings = site.settings
    return SlurmExecutor(dfos_command(site), site.job_dir / "batch", site.root, settings.batch_resources,
                         shlex.split(settings.SLURM_OPTIONS), settings.BATCH_POLL)


def _condor(site: Site, _run_ab: ABRunner) -> Executor:
    from dfos.executors.condor import CondorExecutor

    settings = site.settings
    return CondorExecutor(shlex.split(settings.CONDOR_COMMAND), dfos_command(site), site.job_dir / "batch",
                          settings.batch_resources, settings.recipe_limits, settings.BATCH_POLL)


LOCAL = ExecutorPlugin("local", "local (dfos exec-cascade, this machine)", False, _local)
SLURM = ExecutorPlugin("slurm", "Slurm (one sbatch job per AB)", True, _slurm)
CONDOR = ExecutorPlugin("condor", "HTCondor DAGMan (one DAG per cascade)", True, _condor)

#: The executors that ship with dfos, in the order they are offered (:data:`dfos.plugins.EXECUTORS`).
BUILTIN: dict[str, ExecutorPlugin] = {p.name: p for p in (LOCAL, SLURM, CONDOR)}


def collect(eps: Iterable[EntryPoint]) -> dict[str, ExecutorPlugin]:
    """Built-ins plus the executors of ``eps``; a plugin that fails to load is a warning, not a crash,
    and an entry point of a built-in's name (dfos registers its own) keeps the built-in."""
    found = dict(BUILTIN)
    for ep in eps:
        if ep.name.strip().lower() in found:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a third-party plugin may fail in any way
            log.warning("executor plugin %s (%s) failed to load: %s", ep.name, ep.value, exc)
            continue
        if isinstance(plugin, ExecutorPlugin):
            found.setdefault(plugin.name.strip().lower(), plugin)
        else:
            log.warning("executor plugin %s (%s) is not an ExecutorPlugin; ignored", ep.name, ep.value)
    return found


@cache
def _scan() -> dict[str, ExecutorPlugin]:
    from importlib.metadata import entry_points

    return collect(entry_points(group=ENTRY_POINT_GROUP))


def names() -> tuple[str, ...]:
    """Every executor's name, built-ins first, without loading any plugin (the CLI's choices)."""
    return EXECUTORS.names()


def available() -> dict[str, ExecutorPlugin]:
    """Every known executor keyed by its name, built-ins first (entry points are loaded once, and only
    when a name is not built in)."""
    return dict(_scan())


def get_executor(name: str) -> ExecutorPlugin:
    """The executor plugin called ``name`` (any case); :class:`UsageError` naming the known ones otherwise."""
    wanted = name.strip().lower()
    if wanted in BUILTIN:
        return BUILTIN[wanted]
    known = available()
    if wanted not in known:
        names = list(known)
        raise UsageError(f"unknown executor {name!r}: {', '.join(names[:-1])} or {names[-1]}")
    return known[wanted]


def label(name: str) -> str:
    """The monitor's label of the executor ``name``; the name itself when no plugin has it."""
    try:
        return get_executor(name).label
    except UsageError:
        return name


def make_executor(site: Site, name: str, run_ab: ABRunner) -> Executor:
    """The executor called ``name``, set up from the workspace's configuration."""
    return get_executor(name).make(site, run_ab)
