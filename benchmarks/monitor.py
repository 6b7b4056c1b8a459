"""Monitor benchmark: 60 dates and 10,000 ABs (9,410 on the newest date, 10 on each other), with
cascade state, run records and QC summaries in the database; prints the server time of the
dfoMonitor page, the AB monitor page of the big date (first page, a filtered page, the JSON for
live updates) and the static export.  Targets: 200 ms, 200 ms, 10 s.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from starlette.testclient import TestClient

from dfos.db import ab_qc, ab_runs, cascade_nodes, engine_for_url
from dfos.monitor.app import create_app
from dfos.monitor.export import export_site
from dfos.workspace import init_workspace, open_workspace

FIRST = date(2013, 1, 1)
DATES = 60
TOTAL = 10_000
SMALL = 10
STATES = ("succeeded", "succeeded", "succeeded", "failed", "blocked", "waiting", "running", "incomplete")


def build(root: Path) -> Path:
    ws, _ = init_workspace(root, env={})
    status = []
    big = FIRST + timedelta(days=DATES - 1)
    per_date = {FIRST + timedelta(days=k): SMALL for k in range(DATES - 1)}
    per_date[big] = TOTAL - SMALL * (DATES - 1)
    engine = engine_for_url(ws.db_url)
    for day, count in per_date.items():
        key = day.isoformat()
        (ws.hdr_dir / key).mkdir(parents=True)
        (ws.raw_dir / key).mkdir(parents=True)
        stamp = datetime.combine(day + timedelta(days=1), datetime.min.time()).strftime("%Y-%m-%dT%H:%M:%S")
        status += [f"fits_Requested {key} {stamp}", f"raw_Complete {key} {stamp}", f"cal_AB {key} {stamp}",
                   f"cal_Queued {key} {stamp}"]
        names = [f"UVES.{key}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}.{n:04d}_tpl.ab"
                 for n in range(count)]
        lines = []
        nodes, runs, scores = [], [], []
        for n, name in enumerate(names):
            raw_type = ("BIAS_BLUE", "DARK_BLUE", "FLAT_BLUE", "WAVE_BLUE")[n % 4]
            state = STATES[n % len(STATES)]
            lines.append(f"{name}  {raw_type}  uves_cal_x  {'INCOMPLETE' if state == 'incomplete' else 'COMPLETE'}")
            (ws.ab_dir / name).touch()
            if state != "incomplete":
                nodes.append({"dag_id": f"CALIB_{key}", "ab": name, "state": state, "attempts": 1, "wall_s": 1.5,
                              "backend_id": str(1000 + n), "updated": stamp})
            if state in ("succeeded", "failed"):
                runs.append({"ab": name, "batch_id": f"CALIB_{key}", "recipe": "uves_cal_x", "started": stamp,
                             "ended": stamp, "status": "SUCCESSFUL" if state == "succeeded" else "FAILED",
                             "failure": None if state == "succeeded" else "recipe_error", "wall_s": 1.5})
            if state == "succeeded":
                scores.append({"ab": name, "batch_id": f"CALIB_{key}", "date": key, "instrument": "UVES",
                               "raw_type": raw_type, "n_params": 10, "n_scored": 3, "n_red": n % 7 == 0,
                               "verdict": "red" if n % 7 == 0 else "green", "plots": "", "updated": stamp})
        (ws.mon_dir / f"AB_list_CALIB_{key}").write_text("\n".join(lines) + "\n")
        with engine.begin() as db:
            for table, rows in ((cascade_nodes, nodes), (ab_runs, runs), (ab_qc, scores)):
                if rows:
                    db.execute(insert(table), rows)
    (ws.mon_dir / "DFO_STATUS").write_text("\n".join(status) + "\n")
    return ws.root


def serve_time(client: TestClient, url: str, runs: int = 7) -> float:
    client.get(url)  # warm
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        root = build(Path(tmp) / "ws")
        print(f"{'monitor: 60 dates, 10,000 ABs built':<58} {time.perf_counter() - start:8.3f} s")
        ws = open_workspace(root, env={"DFOS_NOW": "2013-03-02T14:00:00", "DFOS_N_DFO_HDR": "60"})
        big = (FIRST + timedelta(days=DATES - 1)).isoformat()
        with TestClient(create_app(ws, token="bench"), base_url="http://127.0.0.1") as client:
            client.get("/login?token=bench")
            page = client.get("/").text
            assert page.count("<tr data-date=") == DATES, page.count("<tr data-date=")
            for label, url in (("dfoMonitor page (60 dates)", "/"),
                               (f"AB monitor, {TOTAL - SMALL * (DATES - 1):,} ABs, first page", f"/abs/{big}"),
                               ("AB monitor, filtered (failed, DARK_BLUE)",
                                f"/abs/{big}?state=failed&raw_type=DARK_BLUE"),
                               ("AB monitor, last page", f"/abs/{big}?page=48"),
                               ("AB monitor JSON (live updates)", f"/api/abs/{big}")):
                print(f"{'  ' + label + ', server time (median)':<58} {serve_time(client, url) * 1000:8.1f} ms")
        start = time.perf_counter()
        pages = export_site(ws, Path(tmp) / "export", wait=60)
        print(f"{'  static export':<58} {time.perf_counter() - start:8.3f} s  ({pages} pages)")


if __name__ == "__main__":
    main()
