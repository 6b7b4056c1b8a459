"""Instrument plugins: the built-in ones and those registered under the entry-point group ``dfos.instruments``."""

from __future__ import annotations

import logging
from functools import cache
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


log = logging.getLogger(__name__)


def available() -> dict[str, type[Instrument]]:
    """Every known instrument class keyed by its upper-case name (entry points are scanned once)."""
    return dict(_scan())


@cache
def _scan() -> dict[str, type[Instrument]]:
    """Built-ins plus entry points; a plugin that fails to load is a warning, not a crash."""
    found = _builtin()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name.upper() in found:
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # a third-party plugin may fail in any way
            log.warning("instrument plugin %s (%s) failed to load: %s", ep.name, ep.value, exc)
            continue
        if isinstance(cls, type) and issubclass(cls, Instrument):
            found[cls.name.upper()] = cls
        else:
            log.warning("instrument plugin %s (%s) is not an Instrument subclass; ignored", ep.name, ep.value)
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
