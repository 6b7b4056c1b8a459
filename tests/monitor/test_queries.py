"""The monitor's queries: the database rows its pages show, per AB, per batch and per key, and the logs
it parses (supersession logs, tails)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert

from dfos.db import ab_qc, ab_runs, cascade_nodes, certifications, comments, engine_for_url
from dfos.keys import BatchId, Mode
from dfos.monitor.queries import (
    ab_records,
    batch_records,
    key_tallies,
    newest_run,
    shown_text,
    superseded_lines,
    supersession_counts,
    tail,
)
from dfos.workspace import Workspace

BATCH = "CALIB_2013-02-12"


def _run(ab: str, status: str, batch: str = BATCH, **extra: Any) -> dict[str, Any]:
    return {"ab": ab, "batch_id": batch, "recipe": "r", "started": "2013-02-13T01:00:00",
            "ended": "2013-02-13T01:01:00", "status": status, **extra}


def _qc(ab: str, verdict: str, date: str = "2013-02-12") -> dict[str, Any]:
    return {"ab": ab, "batch_id": f"CALIB_{date}", "date": date, "instrument": "UVES", "raw_type": "BIAS",
            "n_params": 2, "n_scored": 2, "n_red": 1 if verdict == "red" else 0, "verdict": verdict, "plots": "",
            "updated": "x"}


def _insert(ws: Workspace, table: Table, *rows: dict[str, Any]) -> None:
    with engine_for_url(ws.db_url).begin() as db:
        for row in rows:
            db.execute(insert(table).values(**row))


def test_an_abs_records_newest_first(workspace: Workspace) -> None:
    _insert(workspace, ab_runs, _run("A.ab", "FAILED", message="boom"), _run("A.ab", "SUCCESSFUL"),
            _run("B.ab", "FAILED"))
    _insert(workspace, ab_qc, _qc("A.ab", "green"))
    _insert(workspace, certifications, {"ab": "A.ab", "decision": "rejected", "by": "me", "at": "1", "comment": ""},
            {"ab": "A.ab", "decision": "certified", "by": "me", "at": "2", "comment": "ok"})
    found = ab_records(workspace, "A.ab")
    assert [r["status"] for r in found.runs] == ["SUCCESSFUL", "FAILED"]
    assert found.qc is not None and found.qc["verdict"] == "green"
    assert [d["decision"] for d in found.decisions] == ["certified", "rejected"]
    nothing = ab_records(workspace, "C.ab")
    assert (list(nothing.runs), nothing.qc, list(nothing.decisions)) == ([], None, [])
    last = newest_run(workspace)
    assert last is not None and last.ab == "B.ab"


def test_a_batchs_records_by_ab(workspace: Workspace) -> None:
    _insert(workspace, ab_runs, _run("A.ab", "FAILED"), _run("A.ab", "SUCCESSFUL", wall_s=2.0),
            _run("A.ab", "FAILED", batch="CALIB_2013-02-13"))
    _insert(workspace, cascade_nodes, {"dag_id": BATCH, "ab": "A.ab", "state": "succeeded", "attempts": 2,
                                       "backend_id": "42"},
            {"dag_id": "QC_" + BATCH, "ab": "A.ab", "state": "failed", "attempts": 1})
    _insert(workspace, ab_qc, _qc("A.ab", "red"), _qc("B.ab", "green", "2013-02-13"))
    found = batch_records(workspace, BatchId.of(Mode.CALIB, "2013-02-12"))
    assert set(found.nodes) == {"A.ab"} and found.nodes["A.ab"].state == "succeeded"
    assert found.nodes["A.ab"].backend_id == "42"
    assert found.runs["A.ab"].status == "SUCCESSFUL" and found.runs["A.ab"].wall_s == 2.0  # the newest of the batch
    assert set(found.scores) == {"A.ab"} and found.scores["A.ab"].verdict == "red"
    assert batch_records(workspace, BatchId.of(Mode.SCIENCE, "2013-02-12")).nodes == {}


def test_the_history_tallies_per_key(workspace: Workspace) -> None:
    _insert(workspace, ab_runs, _run("A.ab", "SUCCESSFUL"), _run("A.ab", "FAILED"),  # the newest failed
            _run("B.ab", "FAILED"), _run("B.ab", "SUCCESSFUL"),  # failed, then succeeded
            _run("C.ab", "FAILED", batch="SCIENCE_2013-02-12"), _run("D.ab", "FAILED", batch="not a batch id"))
    _insert(workspace, ab_qc, _qc("A.ab", "green"), _qc("B.ab", "green"))
    _insert(workspace, certifications, {"ab": "A.ab", "decision": "rejected", "by": "me", "at": "1", "comment": ""},
            {"ab": "A.ab", "decision": "certified", "by": "me", "at": "2", "comment": ""},
            {"ab": "B.ab", "decision": "certified", "by": "me", "at": "1", "comment": ""},
            {"ab": "B.ab", "decision": "rejected", "by": "me", "at": "2", "comment": ""})
    _insert(workspace, comments, {"scope": "date", "subject": "2013-02-12", "text": "windy", "author": "me", "at": "1"},
            {"scope": "date", "subject": "2013-02-12", "text": "cloudy", "author": "me", "at": "2"},
            {"scope": "ab", "subject": "A.ab", "text": "not a date's", "author": "me", "at": "3"})
    tallies = key_tallies(workspace)
    assert tallies.failed == {"2013-02-12": 2}  # A (CALIB) and C (SCIENCE); the garbage batch id counts nowhere
    assert tallies.certified == {"2013-02-12": 1}  # the latest decision stands
    assert tallies.comments == {"2013-02-12": ["windy", "cloudy"]}


def test_supersession_logs_and_text_files(tmp_path: Path) -> None:
    log = tmp_path / "supersessions_CALIB_2013-02-12"
    assert supersession_counts(log) == {} and superseded_lines(log, "A.ab") == [] and shown_text(log) == ""
    log.write_bytes(b"t1 A.ab better bias\nt2 B.ab \xff\nt3 A.ab again\nshort\n\n")
    assert supersession_counts(log) == {"A.ab": 2, "B.ab": 1}
    assert superseded_lines(log, "A.ab") == ["t1 A.ab better bias", "t3 A.ab again"]
    assert superseded_lines(log, "B.ab") == ["t2 B.ab \ufffd"]  # undecodable bytes shown, not refused
    assert shown_text(None) == "" and shown_text(tmp_path) == ""


def test_a_tail_starts_at_a_whole_line(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("first line\nsecond line\nthird\n")
    assert tail(path) == ("first line\nsecond line\nthird\n", False)
    assert tail(path, 15) == ("third\n", True)
