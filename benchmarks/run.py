"""dfos benchmarks: timed runs that print figures (never asserted). Run with `make bench`.

Figures: DFO_STATUS append throughput (1 and 8 processes), date-table evaluation over a full
5000-line DFO_STATUS, synthetic night generation (small and full size), header intake, and
association (classification, organisation, matching) of 10,000 and 100,000 headers, createAB of a
header with 10,000 and 30,000 extra cards (benchmarks/big_headers.py), the cascade
(benchmarks/cascade.py), the monitor with 60 dates and 10,000 ABs (benchmarks/monitor.py), and the
same cascades on this machine, Slurm and HTCondor (benchmarks/batch_engines.py). `make bench` runs
benchmarks/startup.py (how long dfos takes to start) and benchmarks/oca_rules.py (ESO's rule files parsed,
ESO's MUSE rules on 10,000 headers) first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from dfos.status.flags import StatusLine
from dfos.status.log import StatusLog
from dfos.steps.demo_data import generate_night
from dfos.steps.headers import extract_headers
from dfos.steps.status import date_table
from dfos.workspace import init_workspace, open_workspace

APPENDER = (
    "import sys; from datetime import datetime; from pathlib import Path; from dfos.status.log import StatusLog\n"
    "log = StatusLog(Path(sys.argv[1]))\n"
    "for n in range(int(sys.argv[2])): log.append('cal_AB', f'{sys.argv[3]}_{n}', datetime(2013, 2, 13))\n"
)


def timed(label: str, func: Callable[[], object], unit_count: int | None = None, unit: str = "") -> float:
    start = time.perf_counter()
    func()
    seconds = time.perf_counter() - start
    rate = f"  ({unit_count / seconds:,.0f} {unit}/s)" if unit_count else ""
    print(f"{label:<58} {seconds:8.3f} s{rate}")
    return seconds


def bench_status(tmp: Path) -> None:
    path = tmp / "DFO_STATUS"
    log = StatusLog(path)
    timed("DFO_STATUS: 2000 appends, 1 process (fsync each)",
          lambda: [log.append("cal_AB", f"K{n}", datetime(2013, 2, 13)) for n in range(2000)], 2000, "lines")
    path.unlink()

    def eight() -> None:
        procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(path), "500", f"w{i}"]) for i in range(8)]
        for proc in procs:
            proc.wait()

    timed("DFO_STATUS: 8 processes x 500 appends", eight, 4000, "lines")
    timed("DFO_STATUS: trim to 1000 lines", lambda: log.trim(1000))


def bench_table(tmp: Path) -> None:
    ws, _ = init_workspace(tmp / "table", env={})
    flags = ["fits_Requested", "raw_Complete", "cal_AB", "cal_Queued", "cal_QC", "cal_Certif", "cal_Updated"]
    lines = []
    first = date(2013, 1, 1)
    for i in range(5000):
        day = first + timedelta(days=(i // len(flags)) % 60)
        lines.append(StatusLine(flags[i % len(flags)], day.isoformat(), datetime(2013, 3, 1)))
        (ws.raw_dir / day.isoformat()).mkdir(exist_ok=True)
        (ws.hdr_dir / day.isoformat()).mkdir(exist_ok=True)
    ws.status_log.append_lines(lines)
    ws = open_workspace(ws.root, env={"DFOS_NOW": "2013-03-05T14:00:00"})
    timed("date table from a 5000-line DFO_STATUS (20 dates listed)", lambda: date_table(ws))


def bench_night(tmp: Path, instrument: str, small: bool) -> None:
    ws, _ = init_workspace(tmp / f"{instrument}-{small}", env={}, instrument=instrument)
    size = "small" if small else "full size"
    night = date(2013, 2, 12)
    timed(f"{instrument} synthetic night, {size}", lambda: generate_night(ws, night, small=small))
    megabytes = sum(p.stat().st_size for p in ws.archive_dir.rglob("*.fits")) / 1e6
    n = len(list(ws.archive_dir.rglob("*.fits")))
    print(f"{'':<58} {n} frames, {megabytes:.0f} MB")
    timed(f"{instrument} header intake, {size}", lambda: extract_headers(ws, night), n, "frames")


def bench_auto_daily(tmp: Path) -> None:
    """An idle auto-daily (nothing new) on a processed small night: the whole command, Python included."""
    ws, _ = init_workspace(tmp / "auto", env={})
    generate_night(ws, date(2013, 2, 12), small=True)
    env = {**os.environ, "DFOS_ROOT": str(ws.root), "DFOS_NOW": "2013-02-13T14:00:00"}
    dfos = [sys.executable, "-m", "dfos.cli.main", "auto-daily"]
    start = time.perf_counter()
    subprocess.run(dfos, env=env, check=True, capture_output=True)
    print(f"{'auto-daily: the small UVES night, real esorex (first run)':<58} {time.perf_counter() - start:8.3f} s")
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(dfos, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    print(f"{'auto-daily: idle (nothing new), median of 5 runs':<58} {sorted(times)[2]:8.3f} s")


def main() -> None:
    import batch_engines
    import big_headers

    import association
    import cascade
    import monitor

    print(f"dfos benchmarks, {datetime.now():%Y-%m-%d %H:%M}, python {sys.version.split()[0]}")
    association.main()
    big_headers.main()
    cascade.main()
    monitor.main()
    batch_engines.main()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        bench_status(tmp)
        bench_table(tmp)
        bench_auto_daily(tmp)
        for instrument in ("UVES", "GIRAFFE"):
            for small in (True, False):
                bench_night(tmp, instrument, small)


if __name__ == "__main__":
    main()
