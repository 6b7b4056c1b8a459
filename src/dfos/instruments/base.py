"""The instrument plugin contract.

An instrument plugin knows what dfos cannot guess: the instrument's name and
archive file prefix, its pipeline, its rules, and (for UVES and GIRAFFE) what one
of its nights looks like (for synthetic data).  Its rules are either dfos's own
rule set (:attr:`Instrument.rules_name`) or the Gasgano ``.oca`` file its Debian
pipeline package installs plus a dfos product map (:attr:`Instrument.product_map`).
Plugins register under the entry-point group ``dfos.instruments``.
"""

from __future__ import annotations

import glob
from abc import ABC
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from dfos.errors import PipelineMissing
from dfos.qc.idp import ImageProfile
from dfos.synth.plan import Arm, FramePlan, Template

if TYPE_CHECKING:
    from astropy.io import fits

__all__ = ["Instrument", "StaticCalibration"]


@dataclass(frozen=True)
class StaticCalibration:
    """A static calibration an observatory keeps in its calibration memory (DFOS: ``GEN_CALDIR``), made by a
    utility recipe from a small text file (e.g. NACO's standard-star catalogue from its ASCII list)."""

    name: str
    """Its certified name without ``.fits`` (``NA_GSTD_SYNTH``: static calibrations have a G type)."""
    recipe: str
    """The utility recipe that makes it (``naco_util_img_std_cat``)."""
    tag: str
    """The SOF tag of the text file (``IMG_STD_ASCII``)."""
    text: str
    """The text file's content."""
    pro_catg: str
    """The PRO.CATG the recipe gives it (``IMG_STD_CATALOG``), checked after the run."""


class Instrument(ABC):
    """Base class of instrument plugins."""

    name: ClassVar[str]
    """Upper-case name, DFO_INSTRUMENT and usually the INSTRUME keyword (UVES, NACO)."""
    instrume: ClassVar[tuple[str, ...]] = ()
    """INSTRUME values its frames carry when they differ from :attr:`name` (NACO: ``NAOS+CONICA``)."""
    file_prefix: ClassVar[str]
    """Archive file prefix, DFO_FILE_NAME (UVES, GIRAF)."""
    pipeline: ClassVar[str]
    """CPL pipeline name as Debian installs it (uves, giraf)."""
    telescope: ClassVar[str] = "ESO-VLT-U2"
    """TELESCOP of its frames."""
    rules_name: ClassVar[str] = ""
    """File name of its dfos rule set among the package's rules (``uves.oca``); empty: ESO's installed rules."""
    product_map: ClassVar[str] = ""
    """File name of its dfos product map among the package's rules (``naco.products.oca``), read after
    ESO's installed ``.oca`` so that createAB knows what each action's recipe makes."""
    setup_keys: ClassVar[tuple[str, ...]] = ("DET.WIN1.BINX", "DET.WIN1.BINY", "DET.READ.SPEED")
    """Dotted keywords whose values make a product's setup (thresholds and trends are per setup)."""

    mcal_code: ClassVar[str] = ""
    """Prefix of certified calibration names (UV, GI); empty: the file prefix's first two letters."""

    def calib_kind(self, pro_catg: str) -> str:
        """Four characters naming a product type: MASTER_BIAS_BLUE -> MBIA, ORDER_TABLE_BLUE -> ORDT."""
        words = [w for w in pro_catg.upper().split("_") if w]
        if words and words[0] == "MASTER" and len(words) > 1:
            kind = "M" + words[1][:3]
        else:
            kind = (words[0][:3] + (words[1][:1] if len(words) > 1 else "")) if words else "PROD"
        return (kind + "XXXX")[:4]

    def calib_setup(self, pro_catg: str, header: Mapping[str, object]) -> str:
        """The setup part of a certified name: the binning, e.g. ``1x1``."""
        binx, biny = header.get("ESO DET WIN1 BINX"), header.get("ESO DET WIN1 BINY")
        return f"{binx}x{biny}" if binx is not None and biny is not None else "NA"

    def idp_image(self, pro_catg: str) -> ImageProfile | None:
        """What the SDP keywords of a science image of ``pro_catg`` need from the instrument (its product
        category, pixel unit, filter keyword, photometric system: :mod:`dfos.qc.idp`); None: products of
        this category are not made into IDPs (the default)."""
        return None

    def setup(self, header: Mapping[str, object]) -> str:
        """The setup of a product: the values of :attr:`setup_keys` in its header, blank-separated
        (``-`` for a missing one), e.g. ``BLUE 1 1 1pt/225kHz/lg``."""
        values = []
        for key in self.setup_keys:
            value = header.get("ESO " + key.replace(".", " "))
            values.append("-" if value is None or value == "" else str(value).replace(" ", "_"))
        return " ".join(values)

    @property
    def instrume_values(self) -> tuple[str, ...]:
        """Every INSTRUME value (upper case) a frame of this instrument may carry."""
        return (self.name.upper(), *(value.upper() for value in self.instrume))

    @property
    def debian_package(self) -> str:
        """The Debian package of its pipeline (``cpl-plugin-naco``)."""
        return f"cpl-plugin-{self.pipeline}"

    def rules_files(self) -> list[Path]:
        """The rule files createAB uses when ``OCA_RULES`` is empty: dfos's own rule set, else ESO's
        installed ``.oca`` plus the dfos product map (:class:`PipelineMissing` when ESO's is not installed)."""
        if self.rules_name:
            return [self.packaged_rules(self.rules_name)]
        return [*self.require_oca_files(), *self.product_map_files()]

    def packaged_rules(self, file_name: str) -> Path:
        """A rule file shipped in :mod:`dfos.rules`."""
        return Path(str(files("dfos.rules").joinpath(file_name)))

    def product_map_files(self) -> list[Path]:
        """The dfos product map shipped for ESO's rules (empty without one)."""
        return [self.packaged_rules(self.product_map)] if self.product_map else []

    def oca_files(self) -> list[Path]:
        """The Gasgano OCA rule files the pipeline package ships (may be empty)."""
        pattern = f"/usr/share/cpl-plugins/{self.pipeline}-*/gasgano/config/*.oca"
        return [Path(p) for p in sorted(glob.glob(pattern))]

    def require_oca_files(self) -> list[Path]:
        """:meth:`oca_files`, or :class:`PipelineMissing` saying which Debian package to install."""
        found = self.oca_files()
        if not found:
            raise PipelineMissing(
                f"{self.name} needs ESO's rules from /usr/share/cpl-plugins/{self.pipeline}-*/gasgano/config/, "
                f"which is not installed: install the Debian package {self.debian_package} "
                f"(sudo apt-get install {self.debian_package})"
            )
        return found

    def arms(self, small: bool) -> dict[str, Arm]:
        """The detector arms of synthetic frames, keyed by :attr:`Arm.name`; ``small`` gives the smallest
        frames its recipes accept.  Default: none (no synthetic FITS night)."""
        return {}

    def night(self, day: date) -> list[Template]:
        """The templates of a typical synthetic night of DFO date ``day``.  Default: none."""
        return []

    def render(self, frame: FramePlan, arm: Arm, seed: int) -> fits.HDUList:
        """One synthetic raw frame.  Default: an echelle frame (:func:`dfos.synth.render.render_frame`)."""
        from dfos.synth.render import render_frame

        return render_frame(frame, arm, self.name, self.telescope, seed)

    def static_calibrations(self) -> list[StaticCalibration]:
        """The static calibrations its synthetic nights need (``dfos demo-data`` installs them).  Default: none."""
        return []

    @property
    def has_synthetic_night(self) -> bool:
        """Whether ``dfos demo-data`` can write FITS nights of this instrument."""
        return bool(self.night(date(2000, 1, 1)))
