"""QC1 parameters as data."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QC1Param", "numeric"]


@dataclass(frozen=True)
class QC1Param:
    """One measured parameter of one product."""

    name: str
    """Space-separated, as in the header without ``HIERARCH ESO``: ``QC OUT1 RON MASTER``."""
    value: float | None
    """The number, or None for a text parameter."""
    text: str
    """The value as written (what a text parameter is)."""
    unit: str = ""
    description: str = ""
    source: str = "header"
    """``header``, ``paf`` or ``procedure:<name>``."""


def numeric(raw: object) -> tuple[float | None, str]:
    """(number or None, text) of a header or PAF value; booleans are text (T/F)."""
    if isinstance(raw, bool):
        return None, "T" if raw else "F"
    if isinstance(raw, int | float):
        return float(raw), repr(raw) if isinstance(raw, float) else str(raw)
    text = str(raw).strip()
    try:
        return float(text), text
    except ValueError:
        return None, text
