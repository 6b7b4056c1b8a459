"""QC procedures: instrument plugins that measure extra QC1 parameters on a product's pixels and
draw its QC plot.

A procedure declares the instrument and the PRO.CATG patterns (or RAW_TYPE patterns) it serves and
registers under the entry-point group ``dfos.qc_procedures`` (dfos's own procedures are built in: they
are known even where the package metadata is stale); processQC runs every procedure that matches a
product.  Procedures are numpy over the product and what processQC hands them in its
:class:`ProductContext`: the AB's raw frames, its recipe log, and the calibration memory of its date
(the products of a PRO.CATG that certified or virtual calibrations offer, e.g. the night's zero
point for a science image).  Plots go through matplotlib's Agg backend, never a screen.
"""

from __future__ import annotations

import fnmatch
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import ClassVar

import numpy as np
from astropy.io import fits

from dfos.qc.model import QC1Param
from dfos.qc.plotting import DRAWING, save_figure

__all__ = ["BUILTIN", "CalibrationProduct", "ProductContext", "QCProcedure", "central", "clipped_mean",
           "procedures_for", "raw_image", "robust_sigma"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationProduct:
    """A calibration product the calibration memory offers for an AB's date (see
    :func:`dfos.steps.qc_memory.calibration_finder`)."""

    pro_catg: str
    ref: str
    """Where it is, as DFOS writes it: ``$DFO_CAL_DIR/<DATE>/<name>.fits`` (certified, MCAL) or
    ``$DFS_PRODUCT/<RAW_TYPE>/<DATE>/<name>.fits`` (virtual, VCAL: made by an AB not yet certified)."""
    memory: str
    """``MCAL`` or ``VCAL``."""
    date: str
    """The DFO date whose memory holds it."""
    producer: str
    """The AB that made it (``DFOS.AB``), when known."""
    mjd_obs: float
    header: Mapping[str, object]
    """The product's primary header, keyed by dotted names (``QC.ZPOINT``, ``INS.OPTI6.NAME``)."""


def _no_calibrations(_pro_catg: str) -> Sequence[CalibrationProduct]:
    return ()


@dataclass(frozen=True)
class ProductContext:
    """What a procedure sees of one product."""

    path: Path
    pro_catg: str
    raw_type: str
    header: fits.Header
    """The product's primary header."""
    image: np.ndarray | None
    """The product's first image (primary, else the first image extension); None for a table product."""
    raw_frames: tuple[Path, ...]
    """The AB's raw inputs (RAWFILE), on disk."""
    recipe_log: Path | None = None
    """The recipe's log of the AB's run (``$DFO_AB_DIR/<LOG_NAME>``), when it is on disk."""
    date: str = ""
    """The AB's DFO date."""
    calibrations: Callable[[str], Sequence[CalibrationProduct]] = field(default=_no_calibrations)
    """The calibration products of a PRO.CATG in the calibration memory of the AB's date (certified
    masters, then virtual products of ABs that ran), read when first asked for."""


class QCProcedure(ABC):
    """Base class of QC procedures; see the module docstring."""

    name: ClassVar[str]
    """Short name, stored as the parameters' source ``procedure:<name>``."""
    instrument: ClassVar[str]
    pro_catgs: ClassVar[tuple[str, ...]] = ()
    """PRO.CATG patterns (fnmatch) of the products it measures."""
    raw_types: ClassVar[tuple[str, ...]] = ()
    """RAW_TYPE patterns, for products of any PRO.CATG of those ABs."""

    def applies(self, instrument: str, pro_catg: str, raw_type: str) -> bool:
        return instrument == self.instrument and (
            any(fnmatch.fnmatchcase(pro_catg, p) for p in self.pro_catgs)
            or any(fnmatch.fnmatchcase(raw_type, p) for p in self.raw_types))

    @abstractmethod
    def measure(self, product: ProductContext) -> list[QC1Param]:
        """The extra QC1 parameters of the product."""

    def plot(self, product: ProductContext, target: Path, params: list[QC1Param]) -> Path | None:
        """Draw the product's QC plot as PNG at ``target`` (``params``: what :meth:`measure` gave); the
        default shows the image and its histogram."""
        if product.image is None:
            return None
        return image_plot(product, target, params)

    def param(self, name: str, value: float, unit: str, description: str) -> QC1Param:
        return QC1Param(name, float(value), f"{float(value):.6g}", unit, description, f"procedure:{self.name}")

    def text(self, name: str, text: str, description: str) -> QC1Param:
        """A text parameter (never scored; the QC log shows it): where a value came from, or why there is none."""
        return QC1Param(name, None, text, "", description, f"procedure:{self.name}")


#: dfos's own procedures, ``name = "module:Class"`` as in its entry points.
BUILTIN = {
    "uves_bias": "dfos.qc.uves:UvesBias", "uves_dark": "dfos.qc.uves:UvesDark", "uves_flat": "dfos.qc.uves:UvesFlat",
    "giraffe_bias": "dfos.qc.giraffe:GiraffeBias", "giraffe_dark": "dfos.qc.giraffe:GiraffeDark",
    "giraffe_flat": "dfos.qc.giraffe:GiraffeFlat",
    "naco_master": "dfos.qc.naco:NacoMaster", "naco_zpoint": "dfos.qc.naco:NacoZeroPoint",
    "naco_coadd": "dfos.qc.naco:NacoCoadd",
}


def _instance(cls: object, origin: str) -> QCProcedure:
    if not (isinstance(cls, type) and issubclass(cls, QCProcedure)):
        raise TypeError(f"{origin} is not a QCProcedure class")
    return cls()


def _builtin(value: str) -> QCProcedure:
    from importlib import import_module

    module, _, name = value.partition(":")
    return _instance(getattr(import_module(module), name), value)


@cache
def _registered() -> tuple[QCProcedure, ...]:
    """The built-in procedures, then those other packages register (a name dfos uses keeps dfos's; a
    plugin that fails to load is a warning, not a crash)."""
    from importlib.metadata import entry_points

    found = {name: _builtin(value) for name, value in BUILTIN.items()}
    for ep in sorted(entry_points(group="dfos.qc_procedures"), key=lambda e: e.name):
        if ep.name in found:
            continue
        try:
            found[ep.name] = _instance(ep.load(), ep.value)
        except Exception as exc:  # a third-party plugin may fail in any way
            log.warning("QC procedure %s (%s) failed to load: %s", ep.name, ep.value, exc)
    return tuple(found.values())


def procedures_for(instrument: str, pro_catg: str, raw_type: str) -> list[QCProcedure]:
    """The registered procedures that measure such a product."""
    return [p for p in _registered() if p.applies(instrument, pro_catg, raw_type)]


def central(image: np.ndarray, fraction: float = 0.5) -> np.ndarray:
    """The central part of an image (``fraction`` of each axis), away from edges and scan regions."""
    ny, nx = image.shape[-2:]
    dy, dx = int(ny * (1 - fraction) / 2), int(nx * (1 - fraction) / 2)
    return image[..., dy : ny - dy, dx : nx - dx]


def _clipped(values: np.ndarray, clip: float, rounds: int) -> np.ndarray:
    flat = np.asarray(values, dtype=np.float64).ravel()
    kept = flat
    for _ in range(rounds):
        centre, sigma = np.median(kept), np.std(kept)
        inside = flat[np.abs(flat - centre) <= clip * sigma] if sigma > 0 else kept
        if inside.size == kept.size:
            break
        kept = inside
    return kept


def robust_sigma(values: np.ndarray, clip: float = 4.0, rounds: int = 5) -> float:
    """The standard deviation after clipping outliers (cosmic rays, hot pixels) beyond ``clip`` sigma
    around the median, repeated.  Unlike the MAD it stays unbiased on integer (ADU) data whose
    noise is only a few ADU."""
    return float(np.std(_clipped(values, clip, rounds)))


def clipped_mean(values: np.ndarray, clip: float = 4.0, rounds: int = 5) -> float:
    """The mean after the same clipping: a level that, unlike the median, is not stuck to whole ADU
    on integer data (a median-combined master of integer frames is integer)."""
    return float(np.mean(_clipped(values, clip, rounds)))


def raw_image(path: Path, extname: str | None = None) -> tuple[np.ndarray, fits.Header]:
    """A raw frame's image (of extension ``extname`` if given) as float64, with its header merged
    (primary first, the extension's cards over it)."""
    with fits.open(path, memmap=False) as hdul:
        if extname is not None:
            hdu = hdul[extname]
            header = hdul[0].header.copy()
            header.update(hdu.header)
        else:
            hdu = next(h for h in hdul if h.data is not None and getattr(h.data, "ndim", 0) == 2)
            header = hdul[0].header.copy()
        return np.asarray(hdu.data, dtype=np.float64), header


def image_plot(product: ProductContext, target: Path, params: list[QC1Param]) -> Path:
    """The image (1st-99th percentile grey scale) beside its histogram, with the parameters listed."""
    with DRAWING:
        return _image_plot(product, target, params)


def _image_plot(product: ProductContext, target: Path, params: list[QC1Param]) -> Path:
    from matplotlib.figure import Figure

    assert product.image is not None
    image = np.asarray(product.image, dtype=np.float64)
    low, high = np.percentile(image, [1, 99])
    figure = Figure(figsize=(10, 4.5))  # no pyplot: its global state is not safe in an executor's threads
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.2]})
    left.imshow(image, origin="lower", cmap="gray", vmin=low, vmax=high, aspect="auto")
    left.set_title(f"{product.pro_catg}\n{product.path.name}", fontsize=9)
    spread = max(high - low, 1e-9)
    right.hist(image.ravel(), bins=200, range=(low - 0.5 * spread, high + 0.5 * spread), color="0.3")
    right.set_yscale("log")
    right.set_xlabel("ADU")
    right.set_title("  ".join(f"{p.name.removeprefix('QC ')} = {p.text} {p.unit}".strip() for p in params[:3]),
                    fontsize=8)
    figure.tight_layout()
    return save_figure(figure, target, dpi=80)
