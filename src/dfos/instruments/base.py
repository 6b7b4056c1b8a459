"""The instrument plugin contract.

An instrument plugin knows what dfos cannot guess: the instrument's name and
archive file prefix, its pipeline, and what one of its nights looks like (for
synthetic data).  Later issues add its OCA rules, QC procedures and naming
scheme here.  Plugins register under the entry-point group ``dfos.instruments``.
"""

from __future__ import annotations

import glob
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import ClassVar

from dfos.synth.plan import Arm, Template

__all__ = ["Instrument"]


class Instrument(ABC):
    """Base class of instrument plugins."""

    name: ClassVar[str]
    """Upper-case name, the INSTRUME keyword and DFO_INSTRUMENT (UVES)."""
    file_prefix: ClassVar[str]
    """Archive file prefix, DFO_FILE_NAME (UVES, GIRAF)."""
    pipeline: ClassVar[str]
    """CPL pipeline name as Debian installs it (uves, giraf)."""
    telescope: ClassVar[str] = "ESO-VLT-U2"
    """TELESCOP of its frames."""
    rules_name: ClassVar[str] = ""
    """File name of its dfos rule set among the package's rules (``uves.oca``)."""
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

    def setup(self, header: Mapping[str, object]) -> str:
        """The setup of a product: the values of :attr:`setup_keys` in its header, blank-separated
        (``-`` for a missing one), e.g. ``BLUE 1 1 1pt/225kHz/lg``."""
        values = []
        for key in self.setup_keys:
            value = header.get("ESO " + key.replace(".", " "))
            values.append("-" if value is None or value == "" else str(value).replace(" ", "_"))
        return " ".join(values)

    def rules_files(self) -> list[Path]:
        """The rule files createAB uses when ``OCA_RULES`` is empty."""
        return [Path(str(files("dfos.rules").joinpath(self.rules_name)))]

    def oca_files(self) -> list[Path]:
        """The Gasgano OCA rule files the pipeline package ships (may be empty)."""
        pattern = f"/usr/share/cpl-plugins/{self.pipeline}-*/gasgano/config/*.oca"
        return [Path(p) for p in sorted(glob.glob(pattern))]

    @abstractmethod
    def arms(self, small: bool) -> dict[str, Arm]:
        """The detector arms, keyed by :attr:`Arm.name`; ``small`` gives the smallest frames its recipes accept."""

    @abstractmethod
    def night(self, day: date) -> list[Template]:
        """The templates of a typical synthetic night of DFO date ``day``."""
