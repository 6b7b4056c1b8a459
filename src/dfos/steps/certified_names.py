"""The certified name of each product move plans (DFOS renameProducts): where a product of an accepted AB goes.

* CALIB: ``$DFO_CAL_DIR/<DATE>/<CalibName>`` (``MCAL_NAME_PATTERN``), a letter A, B ... per product of the
  same kind and setup on the date; a phoenix campaign in COMPLETE_MODE puts its new masters apart, in
  ``$DFO_CAL_DIR/NEW/<DATE>`` (:func:`cal_folder`);
* SCIENCE: ``$DFO_SCI_DIR/<DATE>/<ScienceName>`` (``SCI_NAME_PATTERN``; a run's deep product in DEEP mode:
  ``$DFO_SCI_DIR/<RUN_ID>/``, its setup ending in ``-DEEP``), the time of the AB's first raw
  frame (its MJD-OBS, to the second) telling the templates of a night apart, and ``_2``, ``_3`` ... only
  for a product whose kind, time and setup an earlier one of the date has already (one AB making
  several products of one kind).

The kind (four characters) and the setup come from the instrument (:meth:`Instrument.calib_kind`,
:meth:`Instrument.calib_setup`); a setup is written with letters, digits and ``-`` only (any other run of
characters becomes ``-``: ``NB_2.17`` is written ``NB-2-17``).  Names are given in plan order, so the
same date always gets the same names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dfos.ab.model import AB
from dfos.dates import mjd_to_datetime
from dfos.errors import StateError
from dfos.keys import KeyLike, Mode, ProcessingKey
from dfos.naming import CalibName, ScienceName
from dfos.workspace import Workspace

__all__ = ["NEW", "Namer", "cal_folder", "cal_root", "product_dir", "product_ref", "setup_field"]

#: Where COMPLETE_MODE's new masters go under ``$DFO_CAL_DIR`` (DFOS phoenix: "The products of the CALIB mode
#: are in $DFO_CAL_DIR/NEW"), one folder per date: never mixed with masters of an earlier release.
NEW = "NEW"


def _complete_mode(workspace: Workspace) -> bool:
    from dfos.config.settings import Flavour

    return workspace.settings.COMPLETE_MODE and workspace.settings.FLAVOUR is Flavour.PHOENIX


def cal_folder(workspace: Workspace, key: str) -> str:
    """A date's certified masters under ``$DFO_CAL_DIR``: ``<DATE>``, or ``NEW/<DATE>`` in a phoenix workspace
    with COMPLETE_MODE."""
    return f"{NEW}/{key}" if _complete_mode(workspace) else key


def cal_root(workspace: Workspace) -> Path:
    """Where move puts the dates' folders of certified masters: ``$DFO_CAL_DIR`` (COMPLETE_MODE: ``.../NEW``)."""
    return workspace.cal_dir / NEW if _complete_mode(workspace) else workspace.cal_dir


def product_dir(workspace: Workspace, mode: Mode, key: str) -> Path:
    """Where move puts a date's certified products: ``$DFO_CAL_DIR/<DATE>`` (CALIB; :func:`cal_folder`) or
    ``$DFO_SCI_DIR/<DATE>``."""
    return workspace.cal_dir / cal_folder(workspace, key) if mode is Mode.CALIB else workspace.sci_dir / key


def product_ref(workspace: Workspace, mode: Mode, key: str) -> str:
    """:func:`product_dir` as an AB names it: ``$DFO_CAL_DIR/<DATE>``, ``$DFO_SCI_DIR/<DATE>``."""
    return f"$DFO_CAL_DIR/{cal_folder(workspace, key)}" if mode is Mode.CALIB else f"$DFO_SCI_DIR/{key}"


def setup_field(setup: str) -> str:
    """An instrument's setup as a name field: letters, digits and ``-`` (``NA`` when nothing is left)."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", setup).strip("-") or "NA"


@dataclass
class Namer:
    """Gives each product of a date's accepted ABs its certified path, in plan order."""

    workspace: Workspace
    mode: Mode
    day: KeyLike
    _seen: dict[tuple[object, ...], int] = field(default_factory=dict)

    def target(self, ab: AB, source: Path, header: Mapping[str, object]) -> Path:
        """The certified path of ``source``, a FITS product of ``ab`` with primary header ``header``."""
        plugin = self.workspace.instrument
        code = plugin.mcal_code or plugin.file_prefix[:2].upper()
        catg = str(header.get("HIERARCH ESO PRO CATG", "PRODUCT"))
        kind, setup = plugin.calib_kind(catg), setup_field(plugin.calib_setup(catg, header))
        settings = self.workspace.settings
        try:
            if self.mode is Mode.CALIB:
                name = self._calib(code, kind, setup).render(settings.MCAL_NAME_PATTERN)
            else:
                name = self._science(code, kind, setup, ab).render(settings.SCI_NAME_PATTERN)
        except ValueError as exc:
            raise StateError(f"{source} cannot get a certified name ({exc}): check PRO.CATG {catg!r} and the "
                             "naming pattern") from None
        return product_dir(self.workspace, self.mode, ProcessingKey.of(self.day).text) / name

    def _count(self, key: tuple[object, ...]) -> int:
        """How many products had ``key`` before this one."""
        seen = self._seen.get(key, 0)
        self._seen[key] = seen + 1
        return seen

    def _calib(self, code: str, kind: str, setup: str) -> CalibName:
        index = self._count((kind, setup))
        if index >= 26:
            raise StateError(f"more than 26 {kind} products of setup {setup} on {self.day}: no letter left")
        day = ProcessingKey.of(self.day).day
        if day is None:
            raise StateError(f"{ProcessingKey.of(self.day)} is no DFO date: certified calibrations belong to dates")
        return CalibName(code, kind, day, chr(ord("A") + index), setup)

    def _science(self, code: str, kind: str, setup: str, ab: AB) -> ScienceName:
        moment = mjd_to_datetime(ab.mjd_obs).replace(microsecond=0)
        if ProcessingKey.of(self.day).day is None:  # a run's deep product: told apart from the night's own
            setup = f"{setup}-DEEP"
        return ScienceName(code, kind, moment, setup, self._count((kind, moment, setup)) + 1)
