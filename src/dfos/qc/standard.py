"""Standard QC procedures for master bias, dark and flat, written once for every CCD instrument;
the instrument modules (:mod:`dfos.qc.uves`, :mod:`dfos.qc.giraffe`) set what differs.

Parameters (names under ``QC`` that the pipelines do not use, so they never clash):

* master bias: ``QC BIAS LEVEL`` (clipped mean of the central half, ADU), ``QC BIAS STRUCT`` (spread of
  32 x 32 block medians, ADU), ``QC RON RAW E`` (read noise from the difference of the first two
  raw frames, robust sigma / sqrt 2 x CONAD, e-);
* master dark: ``QC DARK LEVEL`` (clipped mean, ADU), ``QC DARK CURRENT E`` (e-/pixel/hour);
* master flat: ``QC FLAT LEVEL`` (99th percentile: the lit orders, ADU), ``QC FLAT BKG`` (5th
  percentile: between the orders, ADU).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from dfos.qc.model import QC1Param
from dfos.qc.procedures import ProductContext, QCProcedure, central, clipped_mean, raw_image, robust_sigma

__all__ = ["MasterBiasQC", "MasterDarkQC", "MasterFlatQC"]


def _conad(*headers: object) -> float | None:
    """e-/ADU from DET.OUT1.CONAD (or 1 / DET.OUT1.GAIN) of the first header that has it."""
    for header in headers:
        get = getattr(header, "get", None)
        if get is None:
            continue
        if get("ESO DET OUT1 CONAD"):
            return float(get("ESO DET OUT1 CONAD"))
        if get("ESO DET OUT1 GAIN"):
            return 1.0 / float(get("ESO DET OUT1 GAIN"))
    return None


class _Chip:
    """Which raw extension holds the chip of a product: the PRO.CATG's last word if it names one."""

    chip_extensions: ClassVar[tuple[str, ...]] = ()

    def extname(self, pro_catg: str) -> str | None:
        suffix = pro_catg.rsplit("_", 1)[-1]
        return suffix if suffix in self.chip_extensions else None


class MasterBiasQC(_Chip, QCProcedure):
    def measure(self, product: ProductContext) -> list[QC1Param]:
        if product.image is None:
            return []
        middle = central(product.image)
        ny, nx = middle.shape
        blocks = middle[: ny // 32 * 32, : nx // 32 * 32].reshape(ny // 32, 32, nx // 32, 32)
        params = [self.param("QC BIAS LEVEL", clipped_mean(middle), "ADU", "clipped mean of the central half"),
                  self.param("QC BIAS STRUCT", float(np.std(np.median(blocks, axis=(1, 3)))), "ADU",
                             "standard deviation of 32x32 block medians")]
        if len(product.raw_frames) >= 2:
            extname = self.extname(product.pro_catg)
            first, header = raw_image(product.raw_frames[0], extname)
            second, _ = raw_image(product.raw_frames[1], extname)
            conad = _conad(header, product.header)
            if conad:
                sigma = robust_sigma(central(first) - central(second)) / math.sqrt(2.0)
                params.append(self.param("QC RON RAW E", sigma * conad, "e-",
                                         "read noise from the first two raw frames (robust, x CONAD)"))
        return params


class MasterDarkQC(_Chip, QCProcedure):
    per_second: ClassVar[bool] = False
    """True when the master dark is already divided by the exposure time (ADU/s)."""

    def measure(self, product: ProductContext) -> list[QC1Param]:
        if product.image is None:
            return []
        level = clipped_mean(central(product.image))
        params = [self.param("QC DARK LEVEL", level, "ADU/s" if self.per_second else "ADU",
                             "clipped mean of the central half")]
        raw_header = raw_image(product.raw_frames[0], self.extname(product.pro_catg))[1] if product.raw_frames \
            else None
        conad = _conad(product.header, raw_header)
        exptime = float(product.header.get("EXPTIME") or (raw_header or {}).get("EXPTIME") or 0.0)
        if conad and (self.per_second or exptime > 0):
            per_second = level if self.per_second else level / exptime
            params.append(self.param("QC DARK CURRENT E", per_second * conad * 3600.0, "e-/px/h",
                                     "dark current: level / EXPTIME x CONAD, per hour"))
        return params


class MasterFlatQC(_Chip, QCProcedure):
    def measure(self, product: ProductContext) -> list[QC1Param]:
        if product.image is None:
            return []
        low, high = np.percentile(product.image, [5, 99])
        return [self.param("QC FLAT LEVEL", float(high), "ADU", "99th percentile: the lit orders"),
                self.param("QC FLAT BKG", float(low), "ADU", "5th percentile: between the orders")]
