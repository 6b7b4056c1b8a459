"""What a recipe says only in its log, read as QC (pure text parsing, no I/O).

``naco_img_jitter`` counts the sources it finds on the coadded image but writes no QC keyword for it;
its log says (cpl-plugin-naco 4.4.11; after ``[ INFO  ] naco_img_jitter_qc_apertures: [tid=000]``)::

    Detecting apertures using 4 sigma-levels ranging from 5 down to 0.5
    Detected 8 (8) apertures at sigma=5
    8 of the apertures have FWHMs within the range 3.67782 to 183.891 and eccentricity within 0.2

It tries the sigma levels from the highest down until it finds apertures, so the last ``Detected``
line is the one that counts.  The second number (in parentheses) is the recipe's own second count of
that detection; both are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ApertureDetection", "parse_apertures"]

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_DETECTED = re.compile(rf"Detected (\d{{1,9}}) \((\d{{1,9}})\) apertures at sigma=({_NUMBER})")
_WITH_FWHM = re.compile(r"(\d{1,9}) of the apertures have FWHMs within the range")


@dataclass(frozen=True)
class ApertureDetection:
    """The coadd's source detection as the recipe logged it."""

    detected: int
    """Apertures found (the first number of the ``Detected`` line)."""
    detected_alt: int
    """The number in parentheses."""
    sigma: float
    """The detection level [sigma] at which they were found."""
    with_fwhm: int | None
    """How many of them had a FWHM in the accepted range (the apertures QC FWHM is the median of)."""


def parse_apertures(text: str) -> ApertureDetection | None:
    """The last aperture detection a ``naco_img_jitter`` log reports, or None when it reports none.

    Lines are searched one at a time (an arbitrarily long log costs linear time); anything else in the
    log is ignored."""
    found: ApertureDetection | None = None
    for line in text.splitlines():
        if "apertures" not in line:
            continue
        detected = _DETECTED.search(line)
        if detected:
            found = ApertureDetection(int(detected[1]), int(detected[2]), float(detected[3]), None)
            continue
        with_fwhm = _WITH_FWHM.search(line)
        if with_fwhm and found is not None:
            found = ApertureDetection(found.detected, found.detected_alt, found.sigma, int(with_fwhm[1]))
    return found
