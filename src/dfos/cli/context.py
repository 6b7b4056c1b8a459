"""What every command shares: the global options and the workspace they open."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import click

from dfos.config.load import parse_assignment
from dfos.workspace import Workspace, open_workspace

__all__ = ["Cli", "pass_cli"]


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
        """Open the workspace (once), with the ``--set`` values on top."""
        if self._workspace is None:
            self._workspace = open_workspace(self.root, self.env, self.overrides)
        return self._workspace


pass_cli = click.make_pass_decorator(Cli)
