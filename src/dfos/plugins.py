"""The plugin groups of dfos and the names registered in them, read without importing any plugin.

A plugin group is an entry-point group (``[project.entry-points."dfos.executors"]`` in a package's
``pyproject.toml``) plus the names dfos ships itself.  The built-in names are listed here too, so that
they are known even where the package metadata is stale (an editable checkout whose entry points
changed since it was installed).  This module sits low in the layers: the configuration checks a
value against a group's names (``EXECUTOR``) without importing the plugins, which live higher up
(:mod:`dfos.executors.registry` loads them).

:mod:`importlib.metadata` costs tens of milliseconds to import and scan: it is only consulted
for a name that is not built in, and at most once per group.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

__all__ = ["EXECUTORS", "PluginGroup", "entry_point_names"]


@cache
def entry_point_names(group: str) -> tuple[str, ...]:
    """The names registered under the entry-point ``group`` by any installed package, sorted; nothing
    is imported."""
    from importlib.metadata import entry_points

    return tuple(sorted({ep.name for ep in entry_points(group=group)}))


@dataclass(frozen=True)
class PluginGroup:
    """An entry-point group and the names dfos itself provides in it (in the order they are shown)."""

    group: str
    builtin: tuple[str, ...]
    """Lower case, like every name of the group (names compare in any case)."""

    def names(self) -> tuple[str, ...]:
        """Every registered name: the built-in ones first, then those of other packages, sorted."""
        extra = sorted({n.strip().lower() for n in entry_point_names(self.group)} - set(self.builtin))
        return (*self.builtin, *extra)

    def knows(self, name: str) -> bool:
        """Whether ``name`` (any case) is registered; entry points are only scanned for a name not built in."""
        wanted = name.strip().lower()
        return wanted in self.builtin or wanted in self.names()


#: Where cascades run (:mod:`dfos.executors.registry`).
EXECUTORS = PluginGroup("dfos.executors", ("local", "slurm", "condor"))
