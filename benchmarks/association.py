"""Association benchmark: classification, organisation and association of 10,000 and 100,000 headers.

The pool is built in memory (headers only, as createAB sees them): 20 UVES blue setups
(grating wavelength x binning x read speed), each night (12 hours) repeating the plan
bias (5) - dark (3) - order definition (1) - flat (5) - arcs (2) - science (4), with a calibration
memory of certified masters (bias, dark, order table, flat) of every setup for the 10 days before.
Both modes (CALIB and SCIENCE) are associated.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from typing import Any

from dfos.association.classify import Classifier
from dfos.association.engine import associate
from dfos.association.frames import Frame
from dfos.association.match import Calib
from dfos.dates import datetime_to_mjd
from dfos.instruments.registry import get_instrument
from dfos.oca.io import load_rules

WAVELENGTHS = (346.0, 390.0, 437.0, 480.0, 520.0)
BINNINGS = ((1, 1), (2, 2))
SPEEDS = ("1pt/225kHz/lg", "1pt/50kHz/hg")
PLAN: tuple[tuple[str, str, str, int, float], ...] = (
    ("CALIB", "BIAS", "IMAGE", 5, 0.0),
    ("CALIB", "DARK", "IMAGE", 3, 600.0),
    ("CALIB", "LAMP,ORDERDEF", "ECHELLE", 1, 5.0),
    ("CALIB", "LAMP,FLAT", "ECHELLE", 5, 10.0),
    ("CALIB", "LAMP,WAVE", "ECHELLE", 2, 15.0),
    ("SCIENCE", "OBJECT", "ECHELLE", 4, 900.0),
)


def setups() -> list[dict[str, Any]]:
    found = []
    for wlen in WAVELENGTHS:
        for binx, biny in BINNINGS:
            for speed in SPEEDS:
                found.append({"INS.GRAT1.WLEN": wlen, "DET.WIN1.BINX": binx, "DET.WIN1.BINY": biny,
                              "DET.READ.SPEED": speed})
    return found[:20]


def pool(n_frames: int, n_nights: int, start: datetime = datetime(2013, 2, 1, 12)) -> list[Frame]:
    """``n_frames`` headers spread over ``n_nights`` nights, each night's frames within 12 hours."""
    frames: list[Frame] = []
    per_cycle = sum(p[3] for p in PLAN)
    cycles = math.ceil(n_frames / per_cycle / n_nights / 20)
    step = timedelta(seconds=12 * 3600 / (cycles * 20 * per_cycle))
    for night in range(n_nights):
        moment = start + timedelta(days=night, hours=6)
        for cycle in range(cycles):
            for s, setup in enumerate(setups()):
                for catg, kind, tech, count, exptime in PLAN:
                    tpl = moment
                    for expno in range(1, count + 1):
                        if len(frames) >= n_frames:
                            return frames
                        name = f"UVES.{moment:%Y-%m-%dT%H:%M:%S}.{(s * 37 + expno) % 1000:03d}.fits"
                        header = {
                            "INSTRUME": "UVES", "MJD-OBS": datetime_to_mjd(moment), "EXPTIME": exptime,
                            "DPR.CATG": catg, "DPR.TYPE": kind, "DPR.TECH": tech,
                            "TPL.START": f"{tpl:%Y-%m-%dT%H:%M:%S}",
                            "TPL.EXPNO": expno, "TPL.NEXP": count, "DET.CHIPS": 1, "INS.SLIT1.NAME": "FREE",
                            "INS.MODE": "DICHR#1", "INS.GRAT1.NAME": "CD#2", "DET.WIN1.NX": 2048, "DET.WIN1.NY": 3000,
                            "OBS.ID": 1000 + cycle, "ARCFILE": name, **setup,
                        }
                        frames.append(Frame(name, header))
                        moment += step
    return frames


PRODUCTS = ("MASTER_BIAS_BLUE", "MASTER_DARK_BLUE", "ORDER_TABLE_BLUE", "MASTER_FLAT_BLUE")


def memory(first_night: datetime, n_days: int) -> list[Calib]:
    """Certified masters of every setup for the ``n_days`` before the pool (an MCAL calibration memory)."""
    calibs = []
    for day in range(1, n_days + 1):
        moment = first_night - timedelta(days=day)
        for s, setup in enumerate(setups()):
            for catg in PRODUCTS:
                name = f"UV_{catg[:4]}_{moment:%y%m%d}_{s:02d}.fits"
                header = {"PRO.CATG": catg, "DO.CATG": catg, "MJD-OBS": datetime_to_mjd(moment), "EXPTIME": 0.0,
                          "DET.CHIPS": 1, "INS.MODE": "DICHR#1", "INS.GRAT1.NAME": "CD#2", "DET.WIN1.NX": 2048,
                          "DET.WIN1.NY": 3000, **setup}
                frame = Frame(name, header, {"DO.CATG": catg})
                calibs.append(Calib(frame, f"$DFO_CAL_DIR/MCAL/{moment:%Y-%m-%d}/{name}", name,
                                    datetime_to_mjd(moment)))
    return calibs


def run(n_frames: int, n_nights: int) -> tuple[float, int, int]:
    frames = pool(n_frames, n_nights)
    masters = memory(datetime(2013, 2, 1, 18), 10)
    rules = load_rules(get_instrument("UVES").rules_files())
    start = time.perf_counter()
    classifier = Classifier(rules.classify)
    n_abs = 0
    for mode in ("CALIB", "SCIENCE"):
        result = associate(frames, rules, masters, instrument="UVES", date="2013-02-01", mode=mode,
                           classifier=classifier)
        n_abs += len(result.abs)
    return time.perf_counter() - start, len(frames), n_abs


def main() -> None:
    small_t, small_n, small_abs = run(10_000, 1)
    print(f"{'association: 10,000 headers (1 night, 20 setups)':<58} {small_t:8.3f} s  ({small_abs} ABs)")
    big_t, big_n, big_abs = run(100_000, 30)
    print(f"{'association: 100,000 headers (30 nights, 20 setups)':<58} {big_t:8.3f} s  ({big_abs} ABs)")
    ratio = big_t / small_t
    nlogn = (big_n * math.log(big_n)) / (small_n * math.log(small_n))
    print(f"{'  ratio 100k/10k (n log n predicts ' + f'{nlogn:.1f})':<58} {ratio:8.1f}")


if __name__ == "__main__":
    main()
