"""OCA benchmark: parsing ESO's eight installed rule files, and ESO's MUSE rules on 10,000 MUSE headers.

(a) the time to read and parse every ``/usr/share/cpl-plugins/*/gasgano/config/*.oca`` (target 0.5 s in
all; the first run, with cold caches, and the best of 5);
(b) the time to classify and associate (CALIB and SCIENCE mode) 10,000 synthetic MUSE headers of one
night (:func:`dfos.synth.eso_headers.many_headers`: the four instrument modes in turn) with ESO's
``muse.oca`` (regexp on TPL.ID, INS.OPTI1.FILTER computed by classification) and a calibration
memory of MUSE masters (target 3 s).
"""

from __future__ import annotations

import glob
import time
from datetime import date
from pathlib import Path

from dfos.association.classify import Classifier
from dfos.association.engine import associate
from dfos.association.frames import Frame, mid_exposure
from dfos.association.match import Calib
from dfos.oca.io import load_rules
from dfos.synth.eso_headers import calibration_headers, many_headers

RULE_FILES = sorted(glob.glob("/usr/share/cpl-plugins/*/gasgano/config/*.oca"))
DAY = date(2024, 7, 12)
PARSE_TARGET, MUSE_TARGET = 0.5, 3.0


def parse_all() -> tuple[float, float]:
    """Every installed rule file read and parsed: the first run (cold caches) and the best of 5."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for path in RULE_FILES:
            load_rules([Path(path)])
        times.append(time.perf_counter() - start)
    return times[0], min(times)


def muse(n: int) -> tuple[float, int, int]:
    """Seconds to classify and associate ``n`` MUSE headers (both modes), the ABs, and the orphans."""
    rules = load_rules([Path(next(p for p in RULE_FILES if p.endswith("muse.oca")))])
    headers = many_headers("MUSE", n, DAY)
    frames = [Frame(str(h["ARCFILE"]), h) for h in headers]
    products = calibration_headers("MUSE", DAY)
    start = time.perf_counter()
    classifier = Classifier(rules.classify)
    memory = []
    for header in products:
        frame = classifier.classify(Frame(str(header["ARCFILE"]), header))
        memory.append(Calib(frame, f"$DFO_CAL_DIR/MCAL/{frame.name}", frame.name, mid_exposure(frame)))
    n_abs = n_orphans = 0
    for mode in ("CALIB", "SCIENCE"):
        result = associate(frames, rules, memory, instrument="MUSE", date=str(DAY), mode=mode, classifier=classifier)
        n_abs += len(result.abs)
        n_orphans = len(result.orphans)
    return time.perf_counter() - start, n_abs, n_orphans


def _verdict(seconds: float, target: float) -> str:
    return f"(target <= {target:g} s: {'met' if seconds <= target else 'MISSED'})"


def main() -> None:
    first, best = parse_all()
    label = f"OCA: parse the {len(RULE_FILES)} installed ESO rule files (first run)"
    print(f"{label:<58} {first:8.3f} s  {_verdict(first, PARSE_TARGET)}")
    label = "OCA: parse them again (best of 5)"
    print(f"{label:<58} {best:8.3f} s")
    seconds, n_abs, n_orphans = muse(10_000)
    label = "OCA: ESO MUSE rules, 10,000 headers, classify+associate"
    print(f"{label:<58} {seconds:8.3f} s  {_verdict(seconds, MUSE_TARGET)} ({n_abs} ABs, {n_orphans} orphans)")


if __name__ == "__main__":
    main()
