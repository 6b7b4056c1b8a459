"""end-job writes <mode>_QC only for a cascade that ran to its end (issue 20, review): a stop that left ABs
waiting, or an abort that cancelled them, is no processed date; re-running an AB that the last createJob left
out says how.  A NACO header night whose cascade states are written into the database directly: no esorex runs
here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import insert

from dfos.ab.lists import read_ab_list
from dfos.db import cascade_nodes, engine_for_url
from dfos.errors import NotFound, StateError
from dfos.steps.create_job import create_job
from dfos.steps.todo import end_job, requeue
from dfos.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parents[1] / "monitor"))
from monitor_helpers import NIGHT, science_night

DAG = "CALIB_2013-02-12"


def _night(root: Path, states: list[str]) -> tuple[Workspace, list[str]]:
    ws = science_night(root)
    create_job(ws, NIGHT, "CALIB")
    names = [e.name for e in read_ab_list(ws.ab_list("CALIB", NIGHT)) if e.completeness == "COMPLETE"]
    with engine_for_url(ws.db_url).begin() as db:
        for ab, state in zip(names, states + ["succeeded"] * len(names), strict=False):
            db.execute(insert(cascade_nodes).values(dag_id=DAG, ab=ab, state=state, attempts=1))
    return ws, names


@pytest.mark.parametrize(("left", "advice"), [("waiting", "run the cascade again, it resumes (createJob + run"),
                                              ("cancelled", "re-run them (AB monitor, or 'dfos requeue -m CALIB")])
def test_no_qc_flag_while_abs_did_not_run_to_an_end(tmp_path: Path, left: str, advice: str) -> None:
    ws, names = _night(tmp_path / "ws", ["succeeded", left, left])
    before = ws.status_log.path.read_text()
    with pytest.raises(StateError) as refused:
        end_job(ws, "CALIB", NIGHT, by="qc")
    message = str(refused.value)
    assert message.startswith(f"cal_QC not written: 2 AB(s) of {DAG} did not run to an end; {advice}")
    assert f"({names[1]} {left}, {names[2]} {left})" in message
    assert ws.status_log.path.read_text() == before
    assert "# executed" not in (ws.job_dir / "JOBS_NIGHT").read_text()  # the block stays to be run again


def test_a_cascade_that_ended_with_failures_and_blocks_is_processed(tmp_path: Path) -> None:
    ws, _ = _night(tmp_path / "ws", ["succeeded", "failed", "blocked"])
    ended = end_job(ws, "CALIB", NIGHT, by="qc")
    assert ended.flag == "cal_QC" and ended.failed == 1 and ws.status_log.read()[-1].flag == "cal_QC"


def test_re_running_an_ab_the_last_create_job_left_out_says_how(tmp_path: Path) -> None:
    """The second createJob of a date lists only the ABs not done yet; the AB monitor still shows the done ones."""
    ws, names = _night(tmp_path / "ws", ["succeeded"])
    jobs = ws.job_dir / f"execAB_{DAG}"
    jobs.write_text("".join(line + "\n" for line in jobs.read_text().splitlines() if not line.startswith(names[0])))
    with pytest.raises(NotFound, match=rf"{names[0]} is not in execAB_{DAG} \(createJob left it out: it was done\); "
                                       rf"run it again as its subcascade: 'dfos create-job -m CALIB -d 2013-02-12 -a "
                                       rf"{names[0]}', then 'dfos exec-cascade --dag-id {DAG}_sub --jobs "):
        requeue(ws, NIGHT, "CALIB", (names[0],))
    with pytest.raises(NotFound, match=rf"^NOPE.ab is not an AB of {DAG} \(execAB_{DAG}\)$"):
        requeue(ws, NIGHT, "CALIB", ("NOPE.ab",))
