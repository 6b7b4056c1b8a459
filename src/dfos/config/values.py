"""Configuration values that are small languages of their own, parsed once into what their users need.

``RECIPE_LIMITS`` (``"uves_cal_mflat=1,gimasterbias=2"``) and ``BATCH_RESOURCES``
(``"*=1/2G/60, uves_cal_mflat=2/4G/"``) are checked when the configuration is loaded and read
through :attr:`Settings.recipe_limits <dfos.config.settings.Settings.recipe_limits>` and
:attr:`Settings.batch_resources <dfos.config.settings.Settings.batch_resources>`; nobody parses
the text again.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["JobResources", "batch_resources", "recipe_limits"]


def recipe_limits(text: str) -> dict[str, int]:
    """``"recipe=n,recipe=n"`` as a dictionary (ValueError when malformed)."""
    limits: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        recipe, sep, count = item.partition("=")
        if not sep or not recipe.strip() or not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"{item!r} is not 'recipe=N' with N >= 1")
        limits[recipe.strip()] = int(count)
    return limits


@dataclass(frozen=True)
class JobResources:
    """What one batch job of a recipe asks for."""

    cpus: int = 1
    mem_mb: int | None = None
    """Memory in MB (None: the batch system's default)."""
    minutes: int | None = None
    """Time limit in minutes (None: the partition's)."""


_MEM_UNITS = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def batch_resources(text: str) -> dict[str, JobResources]:
    """``"*=1/2G/60, uves_cal_mflat=2/4G/"`` (recipe=CPUS/MEMORY/MINUTES; ``*`` every other recipe;
    an empty field: the batch system's default) as a dictionary; ValueError when malformed."""
    found: dict[str, JobResources] = {"*": JobResources()}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        recipe, sep, spec = item.partition("=")
        fields = spec.split("/")
        if not sep or not recipe.strip() or len(fields) > 3:
            raise ValueError(f"{item!r} is not 'recipe=CPUS/MEMORY/MINUTES'")
        fields += [""] * (3 - len(fields))
        cpus_text, mem_text, minutes_text = (f.strip() for f in fields)
        if cpus_text and not (cpus_text.isdigit() and int(cpus_text) >= 1):
            raise ValueError(f"{item!r}: CPUS must be a whole number >= 1, not {cpus_text!r}")
        mem = None
        if mem_text:
            number, unit = (mem_text[:-1], mem_text[-1].upper()) if mem_text[-1].isalpha() else (mem_text, "M")
            if unit not in _MEM_UNITS or not number.isdigit() or int(number) < 1:
                raise ValueError(f"{item!r}: MEMORY must be like 500M or 4G, not {mem_text!r}")
            mem = max(1, round(int(number) * _MEM_UNITS[unit]))
        if minutes_text and not (minutes_text.isdigit() and int(minutes_text) >= 1):
            raise ValueError(f"{item!r}: MINUTES must be a whole number >= 1, not {minutes_text!r}")
        found[recipe.strip()] = JobResources(int(cpus_text) if cpus_text else 1, mem,
                                             int(minutes_text) if minutes_text else None)
    return found
