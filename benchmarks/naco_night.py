"""The NACO night end to end with the real recipes: calibrations, then science (as autoDaily runs them).

Figures, for the small night (512 x 512) and the real Aladdin3 size (1024 x 1024): the makespan of the two
AB cascades, the sum of recipe times on the critical path (the longest chain of ABs that wait for each
other: flat -> science coadd, or a zero point alone), the total recipe time, and the makespan against the
critical path and against the lower bound ``max(critical path, total recipe time / slots)`` (no schedule on
this many cores can be shorter).  Recipe times are the ``ab_runs`` wall times of the run.  QC runs after the
ABs as its own cascades (QCBQS_TYPE PAR) and is timed apart: inside each AB (the default) its procedures and
plots add 0.2-0.8 s per AB that no recipe time counts.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select

from dfos.ab.store import read_ab
from dfos.db import ab_runs, engine_for_url
from dfos.instruments.naco import Naco
from dfos.keys import BatchId, Mode
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.demo_data import generate_night
from dfos.steps.headers import extract_headers
from dfos.steps.static_calib import install_static
from dfos.workspace import Workspace, init_workspace, open_workspace

NIGHT = date(2013, 2, 12)


def critical_path(ws: Workspace, seconds: dict[str, float]) -> float:
    """The longest sum of recipe times along WAITFOR chains (across modes: a science coadd waits for its flat)."""
    longest: dict[str, float] = {}

    def path(name: str) -> float:
        if name not in longest:
            parents = read_ab(ws.ab_dir, name).waitfor
            longest[name] = seconds.get(name, 0.0) + max((path(p) for p in parents if p in seconds), default=0.0)
        return longest[name]

    return max((path(name) for name in seconds), default=0.0)


def night(tmp: Path, small: bool) -> None:
    root, _ = init_workspace(tmp / f"naco-{'small' if small else 'full'}", env={}, instrument="NACO")
    # QC as its own cascade after the ABs (QCBQS_TYPE PAR): the makespan compares recipes with recipes
    ws = open_workspace(root.root, env={"DFOS_NOW": "2013-02-13T14:00:00", "DFOS_QCBQS_TYPE": "PAR"})
    generate_night(ws, NIGHT, small=small)
    extract_headers(ws, NIGHT)
    install_static(ws, Naco())
    for mode in (Mode.CALIB, Mode.SCIENCE):
        create_abs(ws, NIGHT, mode)
        create_job(ws, NIGHT, mode)
    slots = ws.settings.SLOTS or os.cpu_count() or 1
    start = time.perf_counter()
    for mode in (Mode.CALIB, Mode.SCIENCE):
        dag = BatchId.of(mode, NIGHT).render()
        assert exec_cascade(ws, dag, ws.job_dir / f"execAB_{dag}").ok, dag
    makespan = time.perf_counter() - start
    start = time.perf_counter()
    for mode in (Mode.CALIB, Mode.SCIENCE):
        dag = BatchId.of(mode, NIGHT).render()
        exec_cascade(ws, BatchId.of(mode, NIGHT, qc=True).render(), ws.job_dir / f"execQC_{dag}")
    qc = time.perf_counter() - start
    with engine_for_url(ws.db_url).begin() as db:
        seconds = {r.ab: float(r.wall_s or 0.0) for r in db.execute(select(ab_runs.c.ab, ab_runs.c.wall_s))}
    path, work = critical_path(ws, seconds), sum(seconds.values())
    bound = max(path, work / slots)
    size = "512 x 512" if small else "1024 x 1024"
    print(f"{f'NACO night {size}, both modes ({len(seconds)} ABs), {slots} slots':<58} {makespan:8.3f} s  "
          f"(critical path {path:.2f} s: x{makespan / path:.2f}; recipes {work:.2f} s, "
          f"bound max(path, recipes/{slots}) {bound:.2f} s: x{makespan / bound:.2f}); then QC {qc:.2f} s")


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        for small in (True, False):
            night(Path(name), small)


if __name__ == "__main__":
    main()
