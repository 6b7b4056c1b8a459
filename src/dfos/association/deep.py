"""DEEP mode (phoenix ``-r RUN_ID``): one AB per target of a run, combining that target's science sequences
across nights and OBs into one deep product.

ESO's rules organise science by template (one AB per jitter sequence).  For a run, :func:`deep_groups`
merges the SCIENCE groups of the same action, the same target (``OBS.TARG.NAME``, else ``OBJECT``) and the
same instrument setup (the plugin's setup keywords: for NACO the camera, the filter and the detector mode)
into one group, tagged ``deep``: its AB is named after its first frame (``NACO.<first frame>_deep.ab``), its
RAW_MATCH_KEY names the target and setup, and its frames are every frame of those sequences, oldest first.
Groups of other modes are left out (a run's calibrations are the certified masters of its nights).  Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from dfos.association.organise import Group

__all__ = ["DEEP_TAG", "deep_groups", "target_of"]

#: The AB name tag of a deep group (``<first raw stem>_deep.ab``).
DEEP_TAG = "deep"


def target_of(group: Group) -> str:
    """The target a group observes: OBS.TARG.NAME, else OBJECT, else '' (no target: not combined)."""
    first = group.first
    for key in ("OBS.TARG.NAME", "OBJECT"):
        value = first.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def deep_groups(groups: Sequence[Group], setup_keys: Sequence[str] = ()) -> tuple[Group, ...]:
    """The SCIENCE groups of ``groups`` merged per (action, target, setup); see the module docstring."""
    merged: dict[tuple[Any, ...], list[Group]] = {}
    for group in groups:
        if str(group.first.get("DPR.CATG", "")).upper() != "SCIENCE":
            continue
        target = target_of(group)
        setup = tuple((key, group.first.get(key)) for key in setup_keys)
        identity = (group.action, target, setup) if target else (group.action, group.key)
        merged.setdefault(identity, []).append(group)
    found = []
    for members in merged.values():
        frames = tuple(sorted({f.name: f for g in members for f in g.frames}.values(), key=lambda f: (f.mjd, f.name)))
        target = target_of(members[0])
        setup = tuple((key, members[0].first.get(key)) for key in setup_keys)
        rules = tuple(dict.fromkeys(r for g in members for r in g.rules))
        found.append(replace(members[0], key=("DEEP", (("TARGET", target), *setup)), frames=frames, tag=DEEP_TAG,
                             min_frames=1, max_frames=0, rules=rules))
    return tuple(sorted(found, key=lambda g: (g.first.mjd, g.first.name)))
