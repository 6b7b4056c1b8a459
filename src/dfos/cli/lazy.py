"""A click group that imports a command's module only when that command is used.

Every ``dfos`` command (and every batch job, which is one) used to import every command's
module, and with them astropy, numpy, SQLAlchemy and the web stack: 0.8 s before anything
happened.  :class:`LazyGroup` knows each command by name, module and one-line summary, so
``dfos --help`` imports none of them, and ``dfos process-ab`` imports only its own.
``tests/cli/test_startup.py`` checks that every summary is the first paragraph of its
command's help, so ``dfos --help`` shows exactly what the loaded commands would.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import click

__all__ = ["LazyCommand", "LazyCommands", "LazyGroup"]


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives and what ``--help`` of its group says about it."""

    target: str
    """``module:attribute`` of the :class:`click.Command`."""
    summary: str
    """The first paragraph of the command's help, on one line: all its group's help shows of it."""

    def load(self) -> click.Command:
        """Import the module and return the command."""
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is no click command")
        return command


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands by name; a lazy one is imported the first time it is looked up.

    Listing the names (``list(group.commands)``) imports nothing.
    """

    def __init__(self, lazy: Mapping[str, LazyCommand]) -> None:
        self._lazy = dict(lazy)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        command = self._loaded.get(name)
        if command is None:
            command = self._loaded[name] = self._lazy[name].load()
        return command

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._lazy.pop(name, None)
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if self._loaded.pop(name, None) is None and self._lazy.pop(name, None) is None:
            raise KeyError(name)
        self._lazy.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self._lazy, *self._loaded]))

    def __len__(self) -> int:
        return len(self._lazy.keys() | self._loaded.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._lazy or name in self._loaded

    def for_listing(self, name: str) -> click.Command:
        """The command if it is loaded, else a stand-in carrying its summary (what its group's help shows)."""
        loaded = self._loaded.get(name)
        return loaded if loaded is not None else click.Command(name, help=self._lazy[name].summary)


class LazyGroup(click.Group):
    """A :class:`click.Group` whose commands are :class:`LazyCommand` entries, imported when invoked or when their
    own ``--help`` is shown; the group's help lists them from their summaries."""

    def __init__(self, name: str | None = None, *, lazy: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(name, LazyCommands(lazy), **kwargs)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As :meth:`click.Group.format_commands`, without importing a command to list it."""
        commands = self.commands
        assert isinstance(commands, LazyCommands)  # set by __init__; nothing replaces it
        listed = [(name, commands.for_listing(name)) for name in self.list_commands(ctx)]
        listed = [(name, command) for name, command in listed if not command.hidden]
        if not listed:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in listed)  # click's own spacing
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in listed])
