"""Instrument plugins: the built-in ones and those registered under the entry-point group ``dfos.instruments``."""

from __future__ import annotations

from importlib.metadata import entry_points

from dfos.errors import UnknownInstrument
from dfos.instruments.base import Instrument

__all__ = ["ENTRY_POINT_GROUP", "available", "get_instrument"]

#: Entry-point group under which third-party packages register instruments.
ENTRY_POINT_GROUP = "dfos.instruments"


def _builtin() -> dict[str, type[Instrument]]:
    from dfos.instruments.giraffe import Giraffe
    from dfos.instruments.uves import Uves

    return {cls.name: cls for cls in (Uves, Giraffe)}


def available() -> dict[str, type[Instrument]]:
    """Every known instrument class keyed by its upper-case name."""
    found = _builtin()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name.upper() in found:
            continue
        cls = ep.load()
        if isinstance(cls, type) and issubclass(cls, Instrument):
            found[cls.name.upper()] = cls
    return found


def get_instrument(name: str) -> Instrument:
    """The instrument plugin called ``name`` (case-insensitive)."""
    known = available()
    cls = known.get(name.strip().upper())
    if cls is None:
        raise UnknownInstrument(
            f"unknown instrument {name!r}: known instruments are {', '.join(sorted(known))}"
        )
    return cls()
