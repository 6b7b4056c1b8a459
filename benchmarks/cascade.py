"""Cascade benchmarks: orchestration overhead, makespan, parent-to-child latency, and Snakemake.

A synthetic night of 2,000 ABs: 200 setups, each a cascade bias -> dark -> order definition ->
flat -> arc -> 5 science ABs (with fan-in: the flat waits for bias, dark and order definition,
science for bias, flat and arc).  The overhead run uses ``true`` as the recipe program (a
no-op); the makespan and latency runs use ``sleep_recipe.sh``, whose recipe ``sleepX`` sleeps X
seconds.  Everything runs through the real executor, scheduler, processAB (SOF, subprocess, AB
update) and the SQLite database; QC is measured apart (processQC in every AB), since Snakemake's
jobs do no QC.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dfos.ab.format import render
from dfos.ab.model import AB, Completeness, ProcessStatus
from dfos.jobs.model import ExecFile, ExecLine, render_exec
from dfos.steps.cascade import exec_cascade
from dfos.workspace import init_workspace, open_workspace

HERE = Path(__file__).resolve().parent
RECIPE = HERE / "sleep_recipe.sh"
LEVELS = ("bias", "dark", "orderdef", "flat", "arc")


def shape(n_setups: int) -> list[tuple[str, tuple[str, ...]]]:
    """(AB, parents) of the synthetic night, parents first."""
    nodes: list[tuple[str, tuple[str, ...]]] = []
    for s in range(n_setups):
        name = {level: f"S{s:03d}.{level}.ab" for level in LEVELS}
        nodes += [
            (name["bias"], ()),
            (name["dark"], (name["bias"],)),
            (name["orderdef"], ()),
            (name["flat"], (name["bias"], name["dark"], name["orderdef"])),
            (name["arc"], (name["orderdef"], name["flat"])),
        ]
        nodes += [(f"S{s:03d}.sci{k}.ab", (name["bias"], name["flat"], name["arc"])) for k in range(5)]
    return nodes


def make_workspace(root: Path, nodes: list[tuple[str, tuple[str, ...]]], recipe: dict[str, str]) -> Path:
    ws, _ = init_workspace(root, env={})
    for name, parents in nodes:
        ab = AB(name=name, instrument="UVES", date="2013-02-12", dpr_catg="CALIB", raw_type="BENCH",
                recipe=recipe[name], drs_type="CON", batch_id="CALIB_2013-02-12", event="BENCH", action="BENCH",
                completeness=Completeness.COMPLETE, process_status=ProcessStatus.CREATED, obs_prog_id="-",
                obs_id="-", obs_mode="NONE", mjd_obs=56335.0, mjd_obs_mod=56335.0, prod_root="r." + name,
                prod_path="$DFS_PRODUCT/BENCH/2013-02-12", log_name=f"r.{name}.log", match_keys=(), rawfiles=(),
                mcalib=(), massoc=(), params=(), products=(), waitfor=parents, missing=())
        (ws.ab_dir / name).write_text(render(ab))
    jobs = ws.job_dir / "execAB_CALIB_2013-02-12"
    jobs.write_text(render_exec(ExecFile("CON", tuple(ExecLine(n, p) for n, p in nodes))))
    return jobs


NOOP = shutil.which("true") or "/bin/true"


def run_dfos(root: Path, jobs: Path, slots: int, log: Path | None = None,
             program: str = str(RECIPE), qc: str = "SER") -> tuple[float, float]:
    """Wall seconds and dfos CPU seconds (this process, all threads; recipes excluded).

    ``qc="SER"`` (the default here) leaves QC to its own cascade, not run: the orchestration is
    measured alone, as Snakemake runs it; ``qc="IMPLICIT"`` runs processQC inside every AB."""
    env = {"DFOS_ESOREX": program, "DFOS_QCBQS_TYPE": qc}
    if log:
        os.environ["DFOS_BENCH_LOG"] = str(log)
    ws = open_workspace(root, env=env)
    wall, cpu = time.perf_counter(), time.process_time()
    result = exec_cascade(ws, "CALIB_2013-02-12", jobs, slots=slots)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    os.environ.pop("DFOS_BENCH_LOG", None)
    assert result.ok, result.counts
    return wall, cpu


def recipe_cost(n: int = 200) -> float:
    """Seconds one no-op recipe process costs (fork and exec of the no-op program)."""
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run([NOOP, "--x", "noop", "x.sof"], check=True)
    return (time.perf_counter() - start) / n


def snakemake(nodes: list[tuple[str, tuple[str, ...]]], work: Path) -> float | None:
    """Wall seconds of Snakemake (--cores 2) running the same DAG of no-op shell jobs; None if not installed."""
    exe = shutil.which("snakemake", path=str(HERE.parent / ".venv-bench" / "bin")) or shutil.which("snakemake")
    if not exe:
        return None
    work.mkdir(parents=True)
    deps = {name: list(parents) for name, parents in nodes}
    (work / "deps.py").write_text(f"DEPS = {deps!r}\n")
    (work / "Snakefile").write_text(
        "include: 'deps.py'\n"
        "rule all:\n    input: [f'done/{n}' for n in DEPS]\n"
        "rule ab:\n    output: 'done/{ab}'\n    input: lambda w: [f'done/{p}' for p in DEPS[w.ab]]\n"
        "    shell: 'touch {output}'\n"
    )
    start = time.perf_counter()
    subprocess.run([exe, "--cores", "2", "--quiet", "all", "-s", "Snakefile"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def latencies(log: Path, nodes: list[tuple[str, tuple[str, ...]]]) -> list[float]:
    starts, ends = {}, {}
    for line in log.read_text().splitlines():
        kind, name, stamp = line.split()
        (starts if kind == "start" else ends)[name + ".ab"] = float(stamp)
    found = []
    for name, parents in nodes:
        if parents and name in starts:
            found.append(starts[name] - max(ends[p] for p in parents))
    return found


def main() -> None:
    nodes = shape(200)
    n = len(nodes)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        jobs = make_workspace(tmp_path / "noop", nodes, {name: "noop" for name, _ in nodes})
        wall, cpu = run_dfos(tmp_path / "noop", jobs, slots=2, program=NOOP)
        cost = recipe_cost()
        print(f"{'cascade: 2,000 no-op ABs on 2 slots, wall':<58} {wall:8.3f} s  ({wall / n * 1000:.2f} ms/AB)")
        print(f"{'  dfos CPU time per AB (scheduler, processAB, database)':<58} {cpu / n * 1000:8.2f} ms")
        print(f"{'  one no-op recipe process (fork + exec, measured alone)':<58} {cost * 1000:8.2f} ms")
        jobs = make_workspace(tmp_path / "noop-qc", nodes, {name: "noop" for name, _ in nodes})
        qc_wall, qc_cpu = run_dfos(tmp_path / "noop-qc", jobs, slots=2, program=NOOP, qc="IMPLICIT")
        print(f"{'  the same with processQC inside every AB (IMPLICIT)':<58} {qc_wall:8.3f} s  "
              f"({qc_cpu / n * 1000:.2f} ms dfos CPU per AB)")
        snake = snakemake(nodes, tmp_path / "snake")
        if snake is None:
            print(f"{'  Snakemake (--cores 2), same DAG':<58} {'not installed (make bench installs it)':>8}")
        else:
            print(f"{'  Snakemake (--cores 2), same DAG of no-op shell jobs':<58} {snake:8.3f} s  "
                  f"(dfos {snake / wall:.1f}x faster)")

        # makespan with known durations (seconds, like small real recipes): the lower bound is
        # max(critical path, total work / slots)
        durations = {"bias": 0.6, "dark": 0.4, "orderdef": 0.3, "flat": 0.8, "arc": 0.3}
        small = shape(20)
        recipe = {name: f"sleep{durations.get(name.split('.')[1], 0.2)}" for name, _ in small}
        jobs = make_workspace(tmp_path / "sleep", small, recipe)
        wall, _ = run_dfos(tmp_path / "sleep", jobs, slots=2)
        seconds = {name: float(recipe[name].removeprefix("sleep")) for name, _ in small}
        longest: dict[str, float] = {}
        for name, parents in small:
            longest[name] = seconds[name] + max((longest[p] for p in parents), default=0.0)
        bound = max(max(longest.values()), sum(seconds.values()) / 2)
        print(f"{'makespan, 200 ABs of 0.2-0.8 s, 2 slots':<58} {wall:8.3f} s  "
              f"(lower bound {bound:.3f} s, +{(wall / bound - 1) * 100:.1f}%)")

        # latency: a chain of 200 no-op ABs, so that a free slot always waits for the child
        chain = [(f"C{i:03d}.ab", (f"C{i - 1:03d}.ab",) if i else ()) for i in range(200)]
        jobs = make_workspace(tmp_path / "chain", chain, {name: "noop" for name, _ in chain})
        log = tmp_path / "chain.log"
        run_dfos(tmp_path / "chain", jobs, slots=2, log=log)
        gaps = sorted(latencies(log, chain))
        label = "parent end -> child start, median (p90), 200-AB chain"
        print(f"{label:<58} {statistics.median(gaps) * 1000:8.2f} ms  ({gaps[int(len(gaps) * 0.9)] * 1000:.2f} ms)")


if __name__ == "__main__":
    sys.exit(main())
