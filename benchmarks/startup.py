"""Start-up benchmark: how long the ``dfos`` command takes before it does anything (issue 16, target 150 ms).

Every operator command and every batch job (a Slurm or HTCondor job is one ``dfos process-ab``) pays it.

- ``dfos --help``: wall time of the whole command, from before the process is spawned to its exit.
- ``dfos process-ab`` start: wall time from before ``dfos --root WS process-ab -a C0.ab`` is spawned to the
  moment its esorex is running: ESOREX is a two-line shell script whose first command writes the time
  (``date +%s%N``, so the figure includes starting ``sh`` and ``date``, about 1-2 ms).  The workspace holds one
  COMPLETE AB with no input frames (nothing to fetch); everything processAB does before the recipe runs is in
  the figure: opening the workspace, reading and checking the AB, writing the SOF, spawning esorex.
- ``dfos process-ab --dag-id --attempt`` start: the same, as a Slurm or HTCondor job of a cascade runs it
  (``dfos process-ab -a C0.ab --dag-id CALIB_2013-02-12 --attempt 1``: the attempt's own working directory,
  the run recorded as that attempt).
- ``dfos process-ab`` whole: the plain command to its exit (the stand-in ends at once): the start, the
  bookkeeping after the recipe (PROCESS_STATUS, the run record in the workspace database) and processQC,
  which QCBQS_TYPE IMPLICIT runs inside processAB (nothing to measure here: the AB has no products).

Each figure is the median of N runs (default 11; ``python benchmarks/startup.py N``), after one unmeasured
run that warms the file cache and writes the bytecode caches an installed dfos has (PYTHONDONTWRITEBYTECODE
is dropped from the commands' environment: compiling every module on every run is not how dfos starts).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dfos.ab.format import render
from dfos.ab.model import AB, Completeness, ProcessStatus
from dfos.workspace import init_workspace

RUNS = 11
TARGET = 0.150
STAMP_VAR = "STARTUP_BENCH_STAMP"
ESOREX = f'#!/bin/sh\ndate +%s%N > "${STAMP_VAR}"\nexit 0\n'


def environment(**extra: str) -> dict[str, str]:
    """This environment, with bytecode caches allowed, and ``extra``."""
    env = {**os.environ, **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def dfos_command() -> list[str]:
    """The ``dfos`` console script of this Python's environment (what operators and batch jobs run)."""
    script = Path(sys.executable).with_name("dfos")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dfos"]


def report(label: str, seconds: list[float]) -> None:
    """One line in the format of ``benchmarks/run.py``'s ``timed``, with the target."""
    median = statistics.median(seconds)
    verdict = "ok" if median <= TARGET else "over"
    print(f"{label:<58} {median:8.3f} s  (target {TARGET * 1000:.0f} ms: {verdict}; "
          f"min {min(seconds):.3f}, max {max(seconds):.3f})")


def help_times(runs: int) -> list[float]:
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        subprocess.run([*dfos_command(), "--help"], env=environment(), stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times[1:]


def one_ab_workspace(tmp: Path) -> Path:
    """A UVES workspace with one COMPLETE AB ``C0.ab`` that needs no input, and the timestamping esorex."""
    ws, _ = init_workspace(tmp / "ws", env={}, instrument="UVES")
    ab = AB(name="C0.ab", instrument="UVES", date="2013-02-12", dpr_catg="CALIB", raw_type="BIAS",
            recipe="uves_cal_mbias", drs_type="CON", batch_id="CALIB_2013-02-12", event="E", action="A",
            completeness=Completeness.COMPLETE, process_status=ProcessStatus.CREATED, obs_prog_id="-", obs_id="-",
            obs_mode="NONE", mjd_obs=0.0, mjd_obs_mod=0.0, prod_root="r.C0", prod_path="$DFS_PRODUCT/BIAS/2013-02-12",
            log_name="C0.ab.log", match_keys=(), rawfiles=(), mcalib=(), massoc=(), params=(), products=(),
            waitfor=(), missing=())
    (ws.ab_dir / ab.name).write_text(render(ab), encoding="utf-8")
    esorex = tmp / "esorex"
    esorex.write_text(ESOREX, encoding="utf-8")
    esorex.chmod(0o755)
    return ws.root


def process_ab_times(tmp: Path, runs: int, *extra: str) -> tuple[list[float], list[float]]:
    """(start, whole) of ``runs`` runs of ``dfos process-ab -a C0.ab [extra]``, in seconds."""
    root = tmp / "ws" if (tmp / "ws").is_dir() else one_ab_workspace(tmp)
    stamp = tmp / "spawned"
    env = environment(**{STAMP_VAR: str(stamp), "DFOS_ESOREX": str(tmp / "esorex")})
    argv = [*dfos_command(), "--root", str(root), "process-ab", "-a", "C0.ab", *extra]
    starts, wholes = [], []
    for _ in range(runs + 1):
        stamp.unlink(missing_ok=True)
        began = time.time_ns()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
        ended = time.time_ns()
        starts.append((int(stamp.read_text()) - began) / 1e9)
        wholes.append((ended - began) / 1e9)
    return starts[1:], wholes[1:]


def main(runs: int = RUNS) -> None:
    report(f"dfos --help, median of {runs} runs", help_times(runs))
    with tempfile.TemporaryDirectory() as name:
        starts, wholes = process_ab_times(Path(name), runs)
        batch, _ = process_ab_times(Path(name), runs, "--dag-id", "CALIB_2013-02-12", "--attempt", "1")
    report(f"dfos process-ab: start to esorex running, median of {runs}", starts)
    report(f"dfos process-ab --dag-id --attempt: start, median of {runs}", batch)
    print(f"{f'dfos process-ab: whole (esorex ends at once), median of {runs}':<58} "
          f"{statistics.median(wholes):8.3f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else RUNS)
