"""The same cascades on this machine, on Slurm and on HTCondor: time per link and per AB, with and without clusters.

Two cascades of no-op ABs (the stand-in recipe returns at once), each run by dfos end to end
(``exec_cascade``):

* a chain of 100 ABs (each waits for the one before): makespan / 100 = time per link;
* 100 independent ABs: makespan / 100 = time per AB.

On each engine twice: one job per AB (``BATCH_CLUSTER=1``: every AB a ``dfos process-ab`` job), and with
clusters (``BATCH_CLUSTER`` at its default, the recipe known short from an earlier run record: short ABs share
``dfos process-cluster`` jobs; docs/batch.md, "Clusters").  Slurm is a private single-node cluster and
HTCondor the personal pool of ``make test-condor`` (both started here, stopped at the end).

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

from batch import batch_workspace, ran_before, remove_workspace  # noqa: E402
from chains import write_chain  # noqa: E402
from dfos.config.settings import Settings  # noqa: E402
from dfos.steps.cascade import exec_cascade  # noqa: E402


def measure(backend: str, n: int, chained: bool, base: Path, cluster: int) -> float:
    ws = batch_workspace(backend, base, ESOREX=str(HERE / "sleep_recipe.sh"), QCBQS_TYPE="SER",
                         BATCH_CLUSTER=cluster)
    try:
        jobs = write_chain(ws, n, 0.0, chained=chained, recipe="noop")
        ran_before(ws, "noop", 0.05)  # (a campaign's recipes ran before: known short)
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

    default = Settings().BATCH_CLUSTER
    print(f"\n== the same cascades of {n} no-op ABs on each executor (dfos end to end, {os.cpu_count()} cores)")
    with ExitStack() as stack:
        env = stack.enter_context(slurm_cluster.cluster())
        os.environ.update(env)
        stack.enter_context(condor_pool.pool())
        for backend, cluster in (("local", 1), ("slurm", 1), ("slurm", default), ("condor", 1), ("condor", default)):
            with tempfile.TemporaryDirectory(prefix=f"bench-{backend}-") as tmp:
                chain = measure(backend, n, True, Path(tmp) / "chain", cluster)
                independent = measure(backend, n, False, Path(tmp) / "independent", cluster)
            label = backend if backend == "local" else f"{backend}, BATCH_CLUSTER={cluster}"
            print(f"{label:<24} chain of {n}: {chain:8.2f} s = {1000 * chain / n:7.1f} ms/link   "
                  f"{n} independent: {independent:8.2f} s = {1000 * independent / n:7.1f} ms/AB", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
