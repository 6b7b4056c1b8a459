"""Synthetic chains of ABs whose recipe only sleeps (no esorex needed), for the step tests."""

from __future__ import annotations

from pathlib import Path

from dfos.ab.format import render
from dfos.ab.model import AB, Completeness, ProcessStatus
from dfos.jobs.model import ExecFile, ExecLine, render_exec
from dfos.workspace import Workspace


def write_chain(ws: Workspace, n: int, seconds: float, chained: bool = True, recipe: str | None = None) -> Path:
    """ABs C0 <- C1 <- ... (each waits for the one before; with ``chained=False`` none waits) whose recipe
    sleeps ``seconds`` (or is ``recipe``, e.g. ``noop``), and their execAB file; returns the file."""
    names = [f"C{i}.ab" for i in range(n)]
    lines = []
    for i, name in enumerate(names):
        parents = (names[i - 1],) if chained and i else ()
        ab = AB(name=name, instrument="UVES", date="2013-02-12", dpr_catg="CALIB", raw_type="T",
                recipe=recipe or f"sleep{seconds}", drs_type="CON", batch_id="CALIB_2013-02-12",
                event="E", action="A", completeness=Completeness.COMPLETE,
                process_status=ProcessStatus.CREATED, obs_prog_id="-", obs_id="-", obs_mode="NONE", mjd_obs=0.0,
                mjd_obs_mod=0.0, prod_root=f"r.{name}", prod_path="$DFS_PRODUCT/T/2013-02-12", log_name=f"{name}.log",
                match_keys=(), rawfiles=(), mcalib=(), massoc=(), params=(), products=(), waitfor=parents,
                missing=())
        (ws.ab_dir / name).write_text(render(ab))
        lines.append(ExecLine(name, parents))
    jobs = ws.job_dir / "execAB_CALIB_2013-02-12"
    jobs.write_text(render_exec(ExecFile("CON", tuple(lines))))
    return jobs
