"""Thresholds and scores, as pure functions.

A threshold file (TOML, one per instrument) lists ``[[threshold]]`` tables; the first one whose
``param``, ``pro_catg`` and ``setup`` (fnmatch patterns, ``*`` when left out) match a parameter
scores it:

* ``method = "fixed"`` (the default): ``low`` and/or ``high`` limits;
* ``method = "stat"``: median +- ``k`` x MAD (median absolute deviation) of the ``last`` N
  values of certified products of the same parameter, PRO.CATG and setup before this one; with
  fewer than ``min_values`` such values the parameter is not scored.

A parameter scores 0 (green: within the limits), 1 (red) or None (grey: no threshold, or not
enough history).  ``health = true`` puts the parameter's trend in the health-check report.
"""

from __future__ import annotations

import fnmatch
import math
import statistics
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dfos.errors import ConfigError

__all__ = ["Limits", "Threshold", "find_threshold", "limits", "load_thresholds", "parse_thresholds", "score",
           "verdict"]


@dataclass(frozen=True)
class Threshold:
    param: str
    pro_catg: str = "*"
    setup: str = "*"
    method: str = "fixed"
    low: float | None = None
    high: float | None = None
    k: float = 5.0
    last: int = 30
    min_values: int = 5
    health: bool = False
    label: str = ""
    """A short title for trend plots and the health report (default: the parameter name)."""

    def matches(self, param: str, pro_catg: str, setup: str) -> bool:
        return (fnmatch.fnmatchcase(param, self.param) and fnmatch.fnmatchcase(pro_catg, self.pro_catg)
                and fnmatch.fnmatchcase(setup, self.setup))


@dataclass(frozen=True)
class Limits:
    low: float | None
    high: float | None
    method: str


_KEYS = {"param", "pro_catg", "setup", "method", "low", "high", "k", "last", "min_values", "health", "label"}


def parse_thresholds(text: str, source: str = "<thresholds>") -> list[Threshold]:
    """Read a threshold file; a mistake raises :class:`ConfigError` naming the entry (the file is
    configuration: exit 4)."""
    try:
        document = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:  # nesting too deep; a 5000-digit number
        raise ConfigError(f"{source}: {str(exc)[:200]}") from None
    unknown = set(document) - {"threshold"}
    if unknown:
        raise ConfigError(f"{source}: unknown table {sorted(unknown)[0]!r} (only [[threshold]] entries)")
    entries = document.get("threshold", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: 'threshold' must be [[threshold]] tables")
    found = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source}: threshold {number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: not a table")
        extra = set(entry) - _KEYS
        if extra:
            raise ConfigError(f"{where}: unknown key {sorted(extra)[0]!r}")
        if not isinstance(entry.get("param"), str) or not entry["param"]:
            raise ConfigError(f"{where}: 'param' (the QC1 parameter name) is required")
        try:
            threshold = Threshold(**entry)
            _check(threshold)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where} ({entry['param']}): {exc}") from None
        found.append(threshold)
    return found


def _check(t: Threshold) -> None:
    for name in ("param", "pro_catg", "setup", "method", "label"):
        if not isinstance(getattr(t, name), str):
            raise ValueError(f"{name} must be text")
    for name in ("last", "min_values"):
        value = getattr(t, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number")
    if not isinstance(t.health, bool):
        raise ValueError("health must be true or false")
    for name in ("low", "high", "k"):
        value = getattr(t, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value)):
            raise ValueError(f"{name} must be a number")
    if t.method not in ("fixed", "stat"):
        raise ValueError(f"method must be 'fixed' or 'stat', not {t.method!r}")
    if t.method == "fixed" and t.low is None and t.high is None:
        raise ValueError("a fixed threshold needs low and/or high")
    if t.low is not None and t.high is not None and t.low > t.high:
        raise ValueError(f"low {t.low} is above high {t.high}")
    if t.method == "stat" and (t.k <= 0 or t.last < 1 or t.min_values < 1):
        raise ValueError("a stat threshold needs k > 0, last >= 1 and min_values >= 1")


def load_thresholds(path: Path) -> list[Threshold]:
    """The thresholds of a file (none when it does not exist); not UTF-8: a :class:`ConfigError` naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_thresholds(text, str(path))


def find_threshold(thresholds: Iterable[Threshold], param: str, pro_catg: str, setup: str) -> Threshold | None:
    return next((t for t in thresholds if t.matches(param, pro_catg, setup)), None)


def limits(threshold: Threshold, history: Sequence[float] = ()) -> Limits | None:
    """The limits a threshold gives, for ``stat`` from the history (oldest first); None: cannot score."""
    if threshold.method == "fixed":
        return Limits(threshold.low, threshold.high, "fixed")
    values = list(history)[-threshold.last :]
    if len(values) < threshold.min_values:
        return None
    centre = statistics.median(values)
    mad = statistics.median(abs(v - centre) for v in values)
    return Limits(centre - threshold.k * mad, centre + threshold.k * mad, "stat")


def score(value: float | None, bounds: Limits | None) -> int | None:
    """0 within the limits, 1 outside, None when there is nothing to score."""
    if value is None or bounds is None or not math.isfinite(value):
        return None
    inside = (bounds.low is None or value >= bounds.low) and (bounds.high is None or value <= bounds.high)
    return 0 if inside else 1


def verdict(scores: Iterable[int | None]) -> tuple[int, int, str]:
    """(scored, red, verdict): ``green`` when something was scored and all of it is green,
    ``red`` when anything is red, ``grey`` when nothing was scored."""
    scored = [s for s in scores if s is not None]
    red = sum(scored)
    return len(scored), red, "red" if red else "green" if scored else "grey"
