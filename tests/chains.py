"""Synthetic chains of ABs whose recipe only sleeps (no esorex needed), for the step tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dfos.ab.format import render
from dfos.ab.model import AB, Completeness, ProcessStatus, RawInput
from dfos.jobs.model import ExecFile, ExecLine, render_exec
from dfos.workspace import Workspace


def write_ab(ws: Workspace, name: str, parents: tuple[str, ...], recipe: str, batch_id: str = "CALIB_2013-02-12",
             raw: Sequence[str] = ()) -> str:
    """One AB whose recipe is ``recipe`` (``sleep0.5``, ``noop``), waiting for ``parents``; ``raw``: names of raw
    frames of 2013-02-12 it reads (one that is nowhere makes it fail as a missing input).  Returns its name."""
    ab = AB(name=name, instrument="UVES", date="2013-02-12", dpr_catg=batch_id.split("_", 1)[0], raw_type="T",
            recipe=recipe, drs_type="CON", batch_id=batch_id,
            event="E", action="A", completeness=Completeness.COMPLETE,
            process_status=ProcessStatus.CREATED, obs_prog_id="-", obs_id="-", obs_mode="NONE", mjd_obs=0.0,
            mjd_obs_mod=0.0, prod_root=f"r.{name}", prod_path="$DFS_PRODUCT/T/2013-02-12", log_name=f"{name}.log",
            match_keys=(), rawfiles=tuple(RawInput(f"$DFO_RAW_DIR/2013-02-12/{r}", "T") for r in raw), mcalib=(),
            massoc=(), params=(), products=(), waitfor=parents, missing=())
    (ws.ab_dir / name).write_text(render(ab))
    return name


def write_exec(ws: Workspace, dag_id: str, lines: Sequence[tuple[str, tuple[str, ...]]]) -> Path:
    """The CON execution file ``execAB_<dag_id>`` of these (AB, parents); returns it."""
    jobs = ws.job_dir / f"execAB_{dag_id}"
    jobs.write_text(render_exec(ExecFile("CON", tuple(ExecLine(name, parents) for name, parents in lines))))
    return jobs


def write_chain(ws: Workspace, n: int, seconds: float, chained: bool = True, recipe: str | None = None) -> Path:
    """ABs C0 <- C1 <- ... (each waits for the one before; with ``chained=False`` none waits) whose recipe
    sleeps ``seconds`` (or is ``recipe``, e.g. ``noop``), and their execAB file; returns the file."""
    names = [f"C{i}.ab" for i in range(n)]
    lines = []
    for i, name in enumerate(names):
        parents = (names[i - 1],) if chained and i else ()
        lines.append((write_ab(ws, name, parents, recipe or f"sleep{seconds}"), parents))
    return write_exec(ws, "CALIB_2013-02-12", lines)
