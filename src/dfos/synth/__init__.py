"""Synthetic nights: the plan as data (:mod:`.plan`) and frame rendering (:mod:`.render`).

:mod:`.render` (numpy, astropy) is imported when ``render_frame`` is first used: instrument plugins
describe their nights with :mod:`.plan`, and every ``dfos`` command loads a plugin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dfos.synth.plan import Arm, Chip, FramePlan, Signal, Template, expand

if TYPE_CHECKING:
    from dfos.synth.render import render_frame

__all__ = ["Arm", "Chip", "FramePlan", "Signal", "Template", "expand", "render_frame"]

_HEAVY = {"render_frame": "dfos.synth.render"}


def __getattr__(name: str) -> Any:
    """The re-exports of heavy modules, imported on first use."""
    if name in _HEAVY:
        return getattr(importlib.import_module(_HEAVY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
