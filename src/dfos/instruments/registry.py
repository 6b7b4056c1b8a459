"""Instrument plugins: the built-in ones and those registered under the entry-point group ``dfos.instruments``."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from dfos.errors import UnknownInstrument
from dfos.instruments.base import Instrument

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "Registered", "available", "get_instrument", "registered"]

#: Entry-point group under which third-party packages register instruments.
ENTRY_POINT_GROUP = "dfos.instruments"

#: The origin of the instruments that ship with dfos.
BUILTIN = "built-in"


@dataclass(frozen=True)
class Registered:
    """An instrument class and where it came from: :data:`BUILTIN`, or ``entry point pkg.module:Class``."""

    cls: type[Instrument]
    origin: str


def _builtin() -> dict[str, type[Instrument]]:
    from dfos.instruments.amber import Amber
    from dfos.instruments.giraffe import Giraffe
    from dfos.instruments.hawki import Hawki
    from dfos.instruments.muse import Muse
    from dfos.instruments.naco import Naco
    from dfos.instruments.uves import Uves
    from dfos.instruments.vimos import Vimos
    from dfos.instruments.visir import Visir

    return {cls.name: cls for cls in (Uves, Giraffe, Naco, Hawki, Muse, Vimos, Visir, Amber)}


log = logging.getLogger(__name__)


def available() -> dict[str, type[Instrument]]:
    """Every known instrument class keyed by its upper-case name (entry points are scanned once)."""
    return {name: entry.cls for name, entry in _scan().items()}


def registered() -> dict[str, Registered]:
    """Every known instrument keyed by its upper-case name, with its origin (``dfos instruments``)."""
    return dict(_scan())


@cache
def _scan() -> dict[str, Registered]:
    from importlib.metadata import entry_points  # imported and scanned only when a plugin may be asked for

    return collect(entry_points(group=ENTRY_POINT_GROUP))


def collect(eps: Iterable[EntryPoint]) -> dict[str, Registered]:
    """Built-ins plus the instruments of ``eps``; a plugin that fails to load is a warning, not a crash,
    and an entry point of a built-in's name (dfos registers its own) keeps the built-in."""
    found = {name: Registered(cls, BUILTIN) for name, cls in _builtin().items()}
    for ep in eps:
        if ep.name.upper() in found:
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # a third-party plugin may fail in any way
            log.warning("instrument plugin %s (%s) failed to load: %s", ep.name, ep.value, exc)
            continue
        if isinstance(cls, type) and issubclass(cls, Instrument):
            found.setdefault(cls.name.upper(), Registered(cls, f"entry point {ep.value}"))
        else:
            log.warning("instrument plugin %s (%s) is not an Instrument subclass; ignored", ep.name, ep.value)
    return found


def get_instrument(name: str) -> Instrument:
    """The instrument plugin called ``name`` (case-insensitive).

    A built-in is found without scanning the installed packages' entry points (it wins over an entry point
    of its name anyway): every command opens a workspace, and the scan costs what a batch job waits for.
    """
    key = name.strip().upper()
    cls = _builtin().get(key)
    if cls is not None:
        return cls()
    known = available()
    cls = known.get(key)
    if cls is None:
        raise UnknownInstrument(
            f"unknown instrument {name!r}: known instruments are {', '.join(sorted(known))}"
        )
    return cls()
