"""What a synthetic night contains: templates, frames and detectors, as plain data.

An instrument plugin describes its night as :class:`Template` records and its
detector arms as :class:`Arm` records; :mod:`dfos.synth.render` turns one
:class:`FramePlan` into a FITS file.  Every injected signal is a field here,
so tests compare pipeline QC values with exactly what was put in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from dfos.naming import RawName

if TYPE_CHECKING:
    from dfos.synth.imaging import Scene

__all__ = ["Arm", "Chip", "FramePlan", "Keywords", "Signal", "Template", "expand"]

#: Dotted keyword -> value, as frames carry them.
Keywords = Mapping[str, str | int | float | bool]

#: Seconds between the end of one exposure and the start of the next (readout, overheads).
OVERHEAD_S = 68.0


class Signal(StrEnum):
    """What the illuminated pixels contain."""

    BIAS = "BIAS"
    """Nothing: bias level and read noise only."""
    DARK = "DARK"
    """Dark current times EXPTIME."""
    ORDERDEF = "ORDERDEF"
    """Narrow echelle orders (order-definition lamp through a short slit)."""
    FLAT = "FLAT"
    """Broad echelle orders (flat lamp through a long slit)."""
    ARC = "ARC"
    """Emission lines along the echelle orders."""
    SCIENCE = "SCIENCE"
    """Sky plus a faint object trace along the orders, and cosmic rays."""


@dataclass(frozen=True)
class Chip:
    """One CCD read through one output, with its injected detector signals."""

    chip_id: str
    """DET.CHIP1.ID (e.g. CCD-44b)."""
    chip_name: str
    """DET.CHIP1.NAME."""
    nx: int
    """Illuminated columns (without pre/overscan)."""
    ny: int
    """Rows."""
    bias_adu: float
    """Injected bias level [ADU], flat over the frame."""
    ron_e: float
    """Injected read noise [e-]."""
    conad: float
    """Conversion factor [e-/ADU]; GAIN = 1/CONAD [ADU/e-]."""
    dark_e_per_s: float = 0.002
    """Injected dark current [e-/s/pixel]."""
    prscx: int = 50
    """Prescan columns."""
    ovscx: int = 50
    """Overscan columns."""
    extname: str | None = None
    """Extension name for multi-chip frames (REDU, REDL); None: primary image."""

    @property
    def gain(self) -> float:
        """ADU per electron (ESO's DET.OUT1.GAIN)."""
        return 1.0 / self.conad

    @property
    def naxis1(self) -> int:
        return self.prscx + self.nx + self.ovscx

    @property
    def naxis2(self) -> int:
        return self.ny


@dataclass(frozen=True)
class Arm:
    """A detector arm or setup: its chips and the keywords every frame of it carries."""

    name: str
    """Arm label (BLUE, RED, ...)."""
    chips: tuple[Chip, ...]
    """One chip: primary image; several: empty primary plus one extension each."""
    keywords: Keywords = field(default_factory=dict)
    """Dotted keywords shared by the arm's frames (DET.*, INS.*)."""


@dataclass(frozen=True)
class Template:
    """One executed template: a run of exposures sharing TPL.START."""

    category: str
    """The DO.CATG ESO's OCA rules must give its frames (BIAS_BLUE, DARK, ...)."""
    arm: str
    """Which :class:`Arm` takes it."""
    dpr: tuple[str, str, str]
    """DPR.CATG, DPR.TYPE, DPR.TECH."""
    signal: Signal
    """Pixel content."""
    start: datetime
    """TPL.START (UT); the first exposure starts here."""
    n_frames: int
    """TPL.NEXP."""
    exptime: float
    """EXPTIME [s] of each exposure."""
    tpl_id: str
    """TPL.ID."""
    obs_id: int
    """OBS.ID of the OB."""
    obs_name: str = "Calibration"
    """OBS.NAME."""
    prog_id: str = "60.A-9022(C)"
    """OBS.PROG.ID (the calibration programme for CALIB)."""
    object: str = ""
    """OBJECT (defaults to DPR.TYPE)."""
    scene: Scene | None = None
    """An imaging template's injected truth (:mod:`dfos.synth.imaging`); None: an echelle frame."""


@dataclass(frozen=True)
class FramePlan:
    """One raw frame to write."""

    template: Template
    expno: int
    """TPL.EXPNO, 1-based."""
    moment: datetime
    """DATE-OBS (UT, millisecond precision)."""
    name: RawName
    """Its archive name."""


def expand(templates: Iterable[Template], prefix: str) -> list[FramePlan]:
    """The frames of some templates, exposures spaced by EXPTIME plus overheads."""
    frames = []
    for template in templates:
        moment = template.start
        for expno in range(1, template.n_frames + 1):
            frames.append(FramePlan(template, expno, moment, RawName(prefix, moment)))
            moment += timedelta(seconds=template.exptime + OVERHEAD_S)
    return sorted(frames, key=lambda f: f.moment)
