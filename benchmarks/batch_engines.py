"""The same cascades on this machine, on Slurm and on HTCondor: time per link and per AB.

Two cascades of no-op ABs (the stand-in recipe returns at once), each run by dfos end to end
(``exec_cascade``, every AB a ``dfos process-ab`` batch job on the engines):

* a chain of 100 ABs (each waits for the one before): makespan / 100 = time per link;
* 100 independent ABs: makespan / 100 = time per AB.

Slurm is a private single-node cluster and HTCondor the personal pool of ``make test-condor``
(both started here, stopped at the end).  Expected orders of magnitude: milliseconds locally,
about a second per link on the engines (their schedulers run on 1-second cycles).

    python benchmarks/batch_engines.py [N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from batch import batch_workspace, remove_workspace  # noqa: E402
from dfos.ab.format import render  # noqa: E402
from dfos.ab.model import AB, Completeness, ProcessStatus  # noqa: E402
from dfos.jobs.model import ExecFile, ExecLine, render_exec  # noqa: E402
from dfos.steps.cascade import exec_cascade  # noqa: E402
from dfos.workspace import Workspace  # noqa: E402


def write_abs(ws: Workspace, n: int, chained: bool) -> Path:
    """``n`` no-op ABs, each waiting for the one before (``chained``) or for nothing; their execAB file."""
    names = [f"B{i:03d}.ab" for i in range(n)]
    lines = []
    for i, name in enumerate(names):
        parents = (names[i - 1],) if chained and i else ()
        ab = AB(name=name, instrument="UVES", date="2013-02-12", dpr_catg="CALIB", raw_type="T", recipe="noop",
                drs_type="CON", batch_id="CALIB_2013-02-12", event="E", action="A",
                completeness=Completeness.COMPLETE, process_status=ProcessStatus.CREATED, obs_prog_id="-",
                obs_id="-", obs_mode="NONE", mjd_obs=0.0, mjd_obs_mod=0.0, prod_root=f"r.{name}",
                prod_path="$DFS_PRODUCT/T/2013-02-12", log_name=f"{name}.log", match_keys=(), rawfiles=(),
                mcalib=(), massoc=(), params=(), products=(), waitfor=parents, missing=())
        (ws.ab_dir / name).write_text(render(ab))
        lines.append(ExecLine(name, parents))
    jobs = ws.job_dir / "execAB_CALIB_2013-02-12"
    jobs.write_text(render_exec(ExecFile("CON", tuple(lines))))
    return jobs


def measure(backend: str, n: int, chained: bool, base: Path) -> float:
    ws = batch_workspace(backend, base, ESOREX=str(HERE / "sleep_recipe.sh"), QCBQS_TYPE="SER")
    try:
        jobs = write_abs(ws, n, chained)
        start = time.perf_counter()
        result = exec_cascade(ws, "CALIB_2013-02-12", jobs)
        seconds = time.perf_counter() - start
        if not result.ok or result.counts["succeeded"] != n:
            raise SystemExit(f"{backend}: the cascade did not succeed: {result.counts}")
        return seconds
    finally:
        remove_workspace(ws)


def main(n: int = 100) -> None:
    from engines import condor_pool, slurm_cluster

    print(f"\n== the same cascades of {n} no-op ABs on each executor (dfos end to end, {os.cpu_count()} cores)")
    with ExitStack() as stack:
        env = stack.enter_context(slurm_cluster.cluster())
        os.environ.update(env)
        stack.enter_context(condor_pool.pool())
        for backend in ("local", "slurm", "condor"):
            with tempfile.TemporaryDirectory(prefix=f"bench-{backend}-") as tmp:
                chain = measure(backend, n, True, Path(tmp) / "chain")
                independent = measure(backend, n, False, Path(tmp) / "independent")
            print(f"{backend:<7} chain of {n}: {chain:8.2f} s = {1000 * chain / n:9.1f} ms/link   "
                  f"{n} independent: {independent:8.2f} s = {1000 * independent / n:9.1f} ms/AB", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
