"""What every command shares: the global options and the workspace they open."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import click

from dfos.config.load import parse_assignment
from dfos.workspace import Workspace, open_workspace

__all__ = ["STATE_CHANGING", "Cli", "pass_cli"]

#: Commands that change a workspace's state: before they act, the workspace must share its database,
#: DFO_STATUS and job files with no other workspace (:func:`dfos.steps.sharing.enforce`).  Batch jobs
#: (process-ab, process-qc, process-cluster) are left out: the cascade that starts them was checked.
STATE_CHANGING = frozenset({
    "flag", "headers", "create-ab", "create-job", "exec-cascade", "fetch-raw", "fetch-mcal", "score", "certify",
    "move", "ingest", "finish", "remove", "cleanup", "download", "release", "auto-daily", "phoenix",
    "refresh-vcal",
    "project",
    "end-job", "reset", "requeue",
})


def _changes_state() -> bool:
    """Whether the command running now is one of :data:`STATE_CHANGING`."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.find_root().invoked_subcommand in STATE_CHANGING


@dataclass
class Cli:
    """Global options of the ``dfos`` command."""

    root: Path | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    _workspace: Workspace | None = None

    @classmethod
    def from_options(cls, root: Path | None, assignments: tuple[str, ...]) -> Cli:
        return cls(root=root, overrides=dict(parse_assignment(a) for a in assignments))

    def workspace(self) -> Workspace:
        """Open the workspace (once), with the ``--set`` values on top; for a command that changes state, refuse
        a workspace that shares its database or directories with another (:mod:`dfos.steps.sharing`)."""
        if self._workspace is None:
            workspace = open_workspace(self.root, self.env, self.overrides)
            if _changes_state():
                from dfos.steps.sharing import enforce

                enforce(workspace)
            self._workspace = workspace
        return self._workspace


pass_cli = click.make_pass_decorator(Cli)
