"""The phoenixMonitor's parts: JOBS_PHOENIX read back, the estimate, the counts of a mode, the aggregate queries
(real SQLite), and the pages over a phoenix workspace whose records are written as the steps write them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import decide
from sqlalchemy import Table, insert
from starlette.testclient import TestClient

from dfos.ab.lists import ABList, write_ab_list
from dfos.ab.model import Completeness
from dfos.db import ab_qc, ab_runs, cascade_nodes, comments, engine_for_url
from dfos.jobs.phoenix import LineState, parse_jobs
from dfos.keys import KeyKind, Mode, ProcessingKey
from dfos.monitor.app import create_app
from dfos.monitor.campaign import ListSummary, campaign_page, estimate_end, mode_states
from dfos.monitor.queries import campaign_tallies
from dfos.steps.phoenix import queue, queue_run
from dfos.workspace import Workspace, init_workspace, open_workspace

T0 = datetime(2026, 1, 5, 8, 0, 0)
NIGHT, NEXT = date(2013, 2, 12), date(2013, 2, 14)
RUN = "090.C-0456A"
JOBS = """#!/bin/sh
export DFO_INSTRUMENT=NACO
"$DFOS" phoenix -d 2013-02-12  # 2026-12-06T03:11:48 finished
"$DFOS" phoenix -d 2013-02-14  # 2026-12-06T03:13:02 waits for certification: SCIENCE 3 AB(s)
"$DFOS" phoenix -d 2013-02-20
"$DFOS" phoenix -r 090.C-0456A -P -a NACO.2013-02-13T01:30:00.512_deep.ab  # 2026-12-06T04:00:00 2 succeeded, 1 failed
"$DFOS" phoenix -r 090.C-0456A -M  # 2026-12-06T05:00:00 3 deep product(s) moved and ingested
"$DFOS" phoenix -d 2013-02-31
echo "$DFOS" phoenix -d 2013-02-21
"""


def test_jobs_phoenix_read_back() -> None:
    jobs = parse_jobs(JOBS)
    assert [(j.key.text, j.step, j.state) for j in jobs] == [
        ("2013-02-12", "-d", LineState.DONE), ("2013-02-14", "-d", LineState.WAITING),
        ("2013-02-20", "-d", LineState.QUEUED), (RUN, "-P -a NACO.2013-02-13T01:30:00.512_deep.ab", LineState.FAILED),
        (RUN, "-M", LineState.DONE)]  # no date 2013-02-31, no line that is not a job
    assert [j.finishes for j in jobs] == [True, False, False, False, True]
    assert jobs[0].when == datetime(2026, 12, 6, 3, 11, 48) and jobs[0].outcome == "finished"
    assert jobs[2].when is None and jobs[2].command == '"$DFOS" phoenix -d 2013-02-20'
    assert jobs[3].key.kind is KeyKind.RUN


def test_the_estimate() -> None:
    now = T0 + timedelta(hours=10)
    assert estimate_end(10, [], T0, now).text() == "no estimate yet"
    assert estimate_end(10, [T0], T0, now).end is None  # finished at the start: no basis
    four = [T0 + timedelta(hours=h) for h in (1, 2, 3, 4)]
    est = estimate_end(10, four, T0, T0 + timedelta(hours=4))
    assert est.rate == pytest.approx(1.0) and est.end == T0 + timedelta(hours=10)  # 6 left at 1 key/h
    later = estimate_end(10, four, T0, now)  # nothing finished for 6 h: the rest starts now
    assert later.end == now + timedelta(hours=6)
    done = estimate_end(4, four, T0, now)
    assert done.finished and done.end == four[-1] and done.text().startswith("finished 2026-01-05 12:00")
    assert "keys/h" in est.text()


def test_the_counts_of_a_mode() -> None:
    states = mode_states(ListSummary(total=20, incomplete=2, done=9),
                         {"succeeded": 8, "failed": 1, "waiting": 2, "submitted": 1, "running": 1, "blocked": 1})
    assert states == {"created": 3, "queued": 3, "running": 1, "succeeded": 9, "failed": 1, "blocked": 1,
                      "incomplete": 2, "cancelled": 0}
    assert mode_states(ListSummary(3, 0, 0), {"succeeded": 5})["created"] == 0  # records of ABs gone: never < 0


def _insert(ws: Workspace, table: Table, rows: list[dict[str, Any]]) -> None:
    with engine_for_url(ws.db_url).begin() as db:
        db.execute(insert(table), rows)


def _batch(ws: Workspace, mode: Mode, key: str, states: list[str], verdicts: list[str]) -> list[str]:
    """A batch as the steps leave it: the AB list, cascade nodes, runs, QC summaries."""
    batch = f"{mode}_{ProcessingKey.parse(key).text}"
    names = [f"NACO.{key}.{mode.prefix}{n:03d}_tpl.ab" for n in range(len(states))]
    pairs = list(zip(names, states, strict=True))
    write_ab_list(ws.ab_list(mode, ProcessingKey.parse(key)),
                  [ABList(n, "OBJECT", "r", Completeness.COMPLETE, s == "succeeded") for n, s in pairs])
    _insert(ws, cascade_nodes, [{"dag_id": batch, "ab": n, "state": s, "attempts": 1} for n, s in pairs])
    _insert(ws, ab_runs, [{"ab": n, "batch_id": batch, "recipe": "r", "started": "2026-01-05T08:00:00",
                           "ended": "2026-01-05T08:01:00", "status": "SUCCESSFUL" if s == "succeeded" else "FAILED",
                           "reused_from": names[0] if k == 1 else None}
                          for k, (n, s) in enumerate(zip(names, states, strict=True)) if s in ("succeeded", "failed")])
    _insert(ws, ab_qc, [{"ab": n, "batch_id": batch, "date": key, "instrument": "NACO", "raw_type": "OBJECT",
                         "n_params": 1, "n_scored": 1, "n_red": int(v == "red"), "verdict": v, "plots": "",
                         "updated": "x"} for n, v in zip(names, verdicts, strict=False)])
    return names


@pytest.fixture
def phoenix(tmp_path: Path) -> Workspace:
    init_workspace(tmp_path / "ws", env={}, instrument="NACO", flavour="phoenix")
    return open_workspace(tmp_path / "ws", env={"DFOS_NOW": "2026-01-05T12:00:00"})


def test_the_aggregates_and_the_campaign_page(phoenix: Workspace) -> None:
    ws = phoenix
    science = _batch(ws, Mode.SCIENCE, "2013-02-12", ["succeeded"] * 4 + ["failed", "running"],
                     ["green", "green", "red", "grey"])
    _batch(ws, Mode.CALIB, "2013-02-12", ["succeeded"] * 3, ["green"] * 3)
    decide(ws, science[0], "certified", by="auto")
    decide(ws, science[2], "certified")
    decide(ws, science[2], "rejected")  # the newest stands
    _insert(ws, comments, [{"scope": "ab", "subject": science[3], "text": "provisional certified: ok",
                            "author": "anna", "at": "x"}])
    tallies = campaign_tallies(ws)
    assert tallies.nodes["SCIENCE_2013-02-12"] == {"succeeded": 4, "failed": 1, "running": 1}
    assert tallies.verdicts["SCIENCE_2013-02-12"] == {"green": 2, "red": 1, "grey": 1}
    assert tallies.decisions["SCIENCE_2013-02-12"] == {"certified": 1, "rejected": 1}
    assert tallies.provisional == {"SCIENCE_2013-02-12": 1}
    assert tallies.reused == {"SCIENCE_2013-02-12": 1, "CALIB_2013-02-12": 1}
    assert tallies.first_start == "2026-01-05T08:00:00"
    decide(ws, science[1], "certified", by="phoenix")  # read on the next request (only the new rows)
    decide(ws, science[2], "certified", by="anna")
    assert campaign_tallies(ws).decisions["SCIENCE_2013-02-12"] == {"certified": 3, "rejected": 0}
    decide(ws, "NACO.late_tpl.ab", "rejected")  # decided before its QC summary: counted once that is written
    assert "rejected" not in {d for t in campaign_tallies(ws).decisions.values() for d, n in t.items() if n}
    _insert(ws, ab_qc, [{"ab": "NACO.late_tpl.ab", "batch_id": "CALIB_2013-02-12", "date": "2013-02-12",
                         "instrument": "NACO", "raw_type": "DARK", "n_params": 0, "n_scored": 0, "n_red": 0,
                         "verdict": "grey", "plots": "", "updated": "x"}])
    assert campaign_tallies(ws).decisions["CALIB_2013-02-12"] == {"rejected": 1}

    queue(ws, [NIGHT, NEXT], lambda day: "2026-01-05T10:00:00 finished" if day == NIGHT else None)
    queue_run(ws, RUN, "-C", "3 deep AB(s)")
    found = campaign_page(ws)
    assert [row.key.text for row in found.rows] == ["2013-02-12", "2013-02-14", RUN]
    night = found.rows[0]
    assert night.state == "done" and night.done_at == datetime(2026, 1, 5, 10, 0, 0)
    sci = next(m for m in night.modes if m.mode is Mode.SCIENCE)
    assert sci.states["succeeded"] == 4 and sci.states["failed"] == 1 and sci.states["running"] == 1
    assert sci.certification == {"accepted": 3, "rejected": 0, "undecided": 0, "provisional": 1}
    assert sci.trouble and sci.address == "SCIENCE_2013-02-12" and sci.listed == 6
    assert found.rows[1].state == "queued" and found.rows[1].modes[0].listed is None
    assert found.rows[2].state == "started" and [m.mode for m in found.rows[2].modes] == [Mode.SCIENCE]
    assert (found.keys_done, found.abs_done, found.abs_total, found.abs_failed) == (1, 7, 9, 1)
    # started 08:00 (the first run), one key done at 10:00: 0.5 key/h, 2 keys left from 12:00 (NOW)
    assert found.estimate.rate == pytest.approx(0.5) and found.estimate.end == datetime(2026, 1, 5, 16, 0, 0)


def _client(ws: Workspace) -> TestClient:
    client = TestClient(create_app(ws, token="tok"), base_url="http://127.0.0.1")
    client.get("/login?token=tok")
    return client


def test_the_front_page_in_the_phoenix_flavour_and_the_run_ab_monitor(phoenix: Workspace) -> None:
    ws = phoenix
    names = _batch(ws, Mode.SCIENCE, RUN, ["failed"] + ["succeeded"] * 449, ["green"] * 449)
    queue_run(ws, RUN, "-P", "449 succeeded, 1 failed")
    with _client(ws) as client:
        front = client.get("/")
        assert "phoenix campaign" in front.text and f'data-key="{RUN}"' in front.text
        assert '<span class="st-failed trouble" data-count="failed">failed 1</span>' in front.text
        assert client.get("/dates").status_code == 200 and 'id="dates"' in client.get("/dates").text
        assert client.get("/api/campaign").json()["keys"][0]["modes"][0]["states"]["failed"] == 1
        first = client.get(f"/abs/SCIENCE_{RUN}")
        assert first.status_code == 200 and names[0] in first.text and names[199] in first.text
        assert '<b id="rows">1–200</b> of <b id="matching">450</b>' in first.text and 'id="last"' in first.text
        last = client.get(f"/abs/{RUN}?page=3")  # the bare run ID is its SCIENCE batch
        assert '<b id="rows">401–450</b>' in last.text and names[449] in last.text and names[0] not in last.text
        assert client.get(f"/api/abs/SCIENCE_{RUN}").json()["total"] == 450
        assert client.get(f"/certify/SCIENCE_{RUN}").status_code == 404  # certify stays by date
        assert client.get("/abs/SCIENCE_NGC253_followup").status_code == 404
        assert client.get("/abs/SCIENCE_091.C-0001A").status_code == 404  # a run without ABs


def test_other_flavours_keep_the_dfo_monitor(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws", env={}, instrument="NACO")
    with _client(open_workspace(tmp_path / "ws", env={})) as client:
        front = client.get("/").text
        assert 'id="dates"' in front and "phoenix campaign" not in front
