"""The association log of an AB: why every input was chosen, what else was considered, what is missing.

``dfos explain AB`` prints this text; the AB monitor shows the same.
"""

from __future__ import annotations

from collections.abc import Iterator

from dfos.association.engine import Planned

__all__ = ["explain_lines"]


def explain_lines(planned: Planned) -> Iterator[str]:
    """Human-readable lines explaining one AB."""
    ab, group = planned.ab, planned.group
    yield f"AB {ab.name}: {ab.completeness.value}, recipe {ab.recipe}, action {ab.action}"
    yield f"  organised by {', '.join(group.rules)}"
    keys = ", ".join(f"{k}={v}" for k, v in ab.match_keys) or "-"
    yield f"  group: {len(group.frames)} raw frame(s) of {ab.raw_type}; grouping values {keys}"
    for frame in group.frames:
        yield f"    raw {frame.name}  {frame.category_key or 'DO.CATG'}={frame.category}"
    for match in planned.inputs:
        select = match.select
        window = f" within {', '.join(f'{w:g}' for w in select.windows)} days" if select.windows else ""
        yield (f"  input {select.tag}: select at {select.source}; minRet {select.min_ret}, maxRet {select.max_ret}; "
               f"{select.match.value}{window}")
        if match.disabled:
            yield "    switched off (maxRet = 0): nothing is associated"
            continue
        yield f"    looked for {match.looked_for}"
        for item in match.considered:
            yield f"    {'+ taken   ' if item.taken else '- rejected'} {item.name}: {item.reason}"
        if not match.considered:
            yield "    no candidate of this kind in the calibration memory"
        if match.missing:
            yield f"    MISSING: {len(match.taken)} of {select.min_ret} required"
    for parent in ab.waitfor:
        yield f"  waits for {parent}"
    for reason in ab.missing:
        yield f"  INCOMPLETE: {reason}"
