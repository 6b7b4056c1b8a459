"""A synthetic reprocessing campaign in memory: many consecutive nights of raw frames and the calibration
memory before them, as createAB reads them from their headers (for the campaign planner's benchmark and tests,
:mod:`dfos.association.campaign`)."""

from __future__ import annotations

from datetime import date, timedelta

from dfos.association.classify import Classifier
from dfos.association.frames import Frame, mid_exposure
from dfos.association.match import Calib
from dfos.synth.eso_headers import calibration_headers, many_headers

__all__ = ["campaign_masters", "campaign_nights"]


def campaign_nights(instrument: str, first: date, count: int, per_night: int) -> dict[date, list[Frame]]:
    """``count`` nights from ``first`` of ``per_night`` frames each (:func:`dfos.synth.eso_headers.many_headers`)."""
    found = {}
    for number in range(count):
        day = first + timedelta(days=number)
        found[day] = [Frame(str(h["ARCFILE"]), h) for h in many_headers(instrument, per_night, day)]
    return found


def campaign_masters(instrument: str, first: date, classifier: Classifier) -> list[Calib]:
    """The certified masters and static tables of the calibration memory, made the day before ``first``, as
    createAB offers them (``$DFO_CAL_DIR/MCAL/<DATE>/<name>.hdr``, the file ``$DFO_CAL_DIR/<DATE>/<name>``)."""
    day = first - timedelta(days=1)
    found = []
    for header in calibration_headers(instrument, day):
        frame = classifier.classify(Frame(str(header["ARCFILE"]), header))
        stem = frame.name.removesuffix(".fits")
        found.append(Calib(frame, f"$DFO_CAL_DIR/MCAL/{day}/{stem}.hdr", f"$DFO_CAL_DIR/{day}/{frame.name}",
                           mid_exposure(frame)))
    return found
