"""A phoenix month of small NACO nights end to end with the real recipes, in COMPLETE_MODE, on this machine's cores.

The archive holds ``NIGHTS`` nights of February 2013: every other one a full night (darks, twilight flats, a
standard star, three science fields), the others science only (their science takes the calibrations of a
neighbouring night: COMPLETE_MODE).  ``phoenix -m 2013-02`` takes them from the archive to ingested science
products.  Figures:

* the makespan: the wall time of the month's two AB cascades (``PHOENIX_CALIB_2013-02``, every calibration the
  science needs, then ``PHOENIX_SCIENCE_2013-02``);
* the lower bound ``max(critical path, total recipe time / slots)``: recipe times are the ``ab_runs`` wall times;
  the critical path is the longest chain of recipe times through what each AB reads (a science coadd reads the
  flat made from a night's frames, the flat the dark of its night: the masters are followed back to the ABs
  that made them, across the two cascades);
* the rest of the month's wall time, apart: QC (its own cascades, QCBQS_TYPE PAR), and intake, createAB,
  certification, move, ingest and finish.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import dfos.steps.cascade as cascade_step
from batch import configure
from dfos.ab.store import read_ab_file
from dfos.db import ab_runs, engine_for_url
from dfos.instruments.naco import Naco
from dfos.steps.demo_data import generate_night
from dfos.steps.phoenix import month_dates, phoenix_dates
from dfos.steps.static_calib import install_static
from dfos.workspace import Workspace, init_workspace, open_workspace

NIGHTS = 8
FIRST = date(2013, 2, 4)
SCIENCE_ONLY = ("IM_JITTER_OBJ",)


def workspace(root: Path) -> Workspace:
    init_workspace(root, env={}, instrument="NACO", flavour="phoenix")
    configure(root, COMPLETE_MODE=True, QCBQS_TYPE="PAR")  # QC as its own cascades: recipes compare with recipes
    ws = open_workspace(root, env={"DFOS_NOW": "2013-03-02T14:00:00"})
    for number in range(NIGHTS):
        generate_night(ws, FIRST + timedelta(days=number), small=True, seed=3 + number,
                       only=SCIENCE_ONLY if number % 2 else None)
    install_static(ws, Naco())
    return ws


def timed_cascades(walls: dict[str, float]) -> Callable[..., Any]:
    """exec_cascade, timing each cascade it runs into ``walls`` (cascade id -> seconds)."""
    run = cascade_step.exec_cascade

    def timed(ws: Workspace, dag_id: str, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return run(ws, dag_id, *args, **kwargs)
        finally:
            walls[dag_id] = walls.get(dag_id, 0.0) + time.perf_counter() - start

    return timed


def critical_path(ws: Workspace, seconds: dict[str, float]) -> float:
    """The longest sum of recipe times along what ABs read: each master an AB reads leads to the AB that made it
    (the moved ABs of ``$DFO_LOG_DIR`` name their certified products)."""
    abs_ = {p.name: read_ab_file(p) for p in ws.path("DFO_LOG_DIR").glob("*/*.ab")}
    maker = {product.name: ab.name for ab in abs_.values() for product in ab.products}
    longest: dict[str, float] = {}

    def path(name: str) -> float:
        if name not in longest:
            inputs = [Path(cal.sof_path).name for cal in abs_[name].mcalib] if name in abs_ else []
            parents = {maker[n] for n in inputs if n in maker and maker[n] != name}
            longest[name] = seconds.get(name, 0.0) + max((path(p) for p in parents), default=0.0)
        return longest[name]

    return max((path(name) for name in seconds), default=0.0)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = workspace(Path(tmp) / "campaign")
        days = month_dates(ws, "2013-02")
        walls: dict[str, float] = {}
        cascade_step.exec_cascade = timed_cascades(walls)
        start = time.perf_counter()
        results = phoenix_dates(ws, days, "2013-02")
        total = time.perf_counter() - start
        assert all(r.finished for r in results), [r.outcome for r in results]
        ab_dags = ("PHOENIX_CALIB_2013-02", "PHOENIX_SCIENCE_2013-02")
        with engine_for_url(ws.db_url).begin() as db:
            seconds = {r.ab: float(r.wall_s or 0.0) for r in db.execute(
                select(ab_runs.c.ab, ab_runs.c.wall_s).where(ab_runs.c.dag_id.in_(ab_dags)))}
        slots = ws.settings.SLOTS or os.cpu_count() or 1
        makespan = sum(walls[d] for d in ab_dags)
        qc = sum(v for d, v in walls.items() if d.startswith("QC_"))
        path, work = critical_path(ws, seconds), sum(seconds.values())
        bound = max(path, work / slots)
        products = sum(1 for _ in ws.sci_dir.glob("*/NA_SCOA_*.fits"))
        print(f"{f'phoenix -m, {len(days)} small NACO nights ({len(seconds)} ABs), {slots} slots':<58} "
              f"{makespan:8.3f} s  (critical path {path:.2f} s, recipes {work:.2f} s, bound max(path, "
              f"recipes/{slots}) {bound:.2f} s: x{makespan / bound:.2f}; target x1.10)")
        print(f"{'  the month end to end':<58} {total:8.3f} s  (AB cascades {makespan:.1f} s, QC cascades {qc:.1f} s, "
              f"intake/createAB/certify/move/ingest/finish {total - makespan - qc:.1f} s; {products} science products)")


if __name__ == "__main__":
    main()
