"""Instrument plugins (:mod:`.base`), the built-in UVES and GIRAFFE, and the registry."""

from dfos.instruments.base import Instrument
from dfos.instruments.registry import ENTRY_POINT_GROUP, available, get_instrument

__all__ = ["ENTRY_POINT_GROUP", "Instrument", "available", "get_instrument"]
