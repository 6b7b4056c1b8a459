"""The Association Block: one recipe call, its inputs, products and dependencies, as data.

Names follow DFOS: the AB of a group whose first raw frame is
``UVES.2013-02-12T18:05:00.500.fits`` and whose tag is ``tpl`` is
``UVES.2013-02-12T18:05:00.500_tpl.ab``; its products are
``r.UVES.2013-02-12T18:05:00.500_tpl_0000.fits``, ``..._0001.fits`` in the
order of the action's ``product`` list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "AB",
    "MJD_DECIMALS",
    "CalibInput",
    "Completeness",
    "ProcessStatus",
    "Product",
    "RawInput",
    "ab_name",
    "product_root",
]

#: The decimals of an AB's MJD-OBS and MJD-OBS_MOD (a tenth of a millisecond is below any exposure).
MJD_DECIMALS = 8


class Completeness(StrEnum):
    COMPLETE = "COMPLETE"
    """Every required input was found and the template is whole: the AB can run."""
    INCOMPLETE = "INCOMPLETE"
    """An input is missing or the template has fewer frames than TPL.NEXP: written, shown, never run."""


class ProcessStatus(StrEnum):
    CREATED = "CREATED"
    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"


@dataclass(frozen=True)
class RawInput:
    """A RAWFILE line: a raw frame the recipe processes."""

    ref: str
    """``$DFO_RAW_DIR/<DATE>/<ARCFILE>``."""
    tag: str
    """SOF tag (the frame's DO.CATG)."""


@dataclass(frozen=True)
class CalibInput:
    """An MCALIB (recipe input) or MASSOC (associated raw, RASSOC) line."""

    ref: str
    """The header that was associated (a VCAL or MCAL ``.hdr``, or a raw ``.fits``)."""
    tag: str
    sof_path: str
    """The file the recipe reads."""
    virtual: bool = False
    producer: str | None = None
    level: int | None = None
    """Quality level that matched (0 is the strictest window)."""


@dataclass(frozen=True)
class Product:
    name: str
    catg: str
    """PRO.CATG."""


@dataclass(frozen=True)
class AB:
    """Everything an AB file says."""

    name: str
    instrument: str
    date: str
    dpr_catg: str
    raw_type: str
    recipe: str
    drs_type: str
    batch_id: str
    event: str
    action: str
    completeness: Completeness
    process_status: ProcessStatus
    obs_prog_id: str
    obs_id: str
    obs_mode: str
    mjd_obs: float
    mjd_obs_mod: float
    prod_root: str
    prod_path: str
    log_name: str
    match_keys: tuple[tuple[str, str], ...]
    rawfiles: tuple[RawInput, ...]
    mcalib: tuple[CalibInput, ...]
    massoc: tuple[CalibInput, ...]
    params: tuple[str, ...]
    products: tuple[Product, ...]
    waitfor: tuple[str, ...]
    missing: tuple[str, ...]
    """Why the AB is INCOMPLETE, one reason per line."""
    sof_content: tuple[tuple[str, str], ...] | None = field(default=None)
    """The SOF_CONTENT lines as written in the AB file, when they differ from what RAWFILE and MCALIB
    give (an operator edited them); None when they agree.  They are the SOF processAB writes."""
    content_key: str | None = field(default=None)
    """CONTENT_KEY: the SHA-256 of what the recipe call is made of (:mod:`dfos.ab.content`); None in an AB
    file written before content keys."""

    def __post_init__(self) -> None:
        # one value per meaning, so that equal ABs compare equal:
        if self.sof_content is not None and tuple(self.sof_content) == self.derived_sof:
            object.__setattr__(self, "sof_content", None)
        for name in ("mjd_obs", "mjd_obs_mod"):  # an AB file holds 8 decimals (0.9 ms): so does the AB
            value = getattr(self, name)
            if isinstance(value, float):
                object.__setattr__(self, name, round(value, MJD_DECIMALS))

    @property
    def derived_sof(self) -> tuple[tuple[str, str], ...]:
        """The SOF that RAWFILE and MCALIB give: raw frames, then calibrations, as ``(path, tag)``."""
        return tuple((r.ref, r.tag) for r in self.rawfiles) + tuple((c.sof_path, c.tag) for c in self.mcalib)

    @property
    def sof(self) -> tuple[tuple[str, str], ...]:
        """SOF_CONTENT as ``(path, tag)``: the lines of the AB file when an operator edited them
        (:attr:`sof_content`), else the raw frames, then the calibrations (:attr:`derived_sof`)."""
        return self.derived_sof if self.sof_content is None else self.sof_content

    @property
    def sof_edited(self) -> bool:
        """True when the AB's SOF_CONTENT differs from what RAWFILE and MCALIB give."""
        return self.sof_content is not None


def ab_name(first_raw: str, tag: str) -> str:
    """``<first raw stem>_<tag>.ab``."""
    return f"{first_raw.removesuffix('.fits')}_{tag}.ab"


def product_root(ab: str) -> str:
    """``r.<AB name without .ab>``: the root of the AB's product names."""
    return "r." + ab.removesuffix(".ab")
