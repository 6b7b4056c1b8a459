"""ToDo lists that cannot hurt: the pure decisions over a date's flags, and the job-file text."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dfos.errors import StateError
from dfos.jobs.model import JobBlock, parse_blocks, render_block
from dfos.jobs.todo import drop_blocks, executed_marker, mark_executed, pending_commands
from dfos.status.machine import DateFacts, StepState, evaluate_date
from dfos.status.todo import effective_flags, job_refusal, mode_stage, reset_pending, reset_refusal
from dfos.steps.finish import finish
from dfos.steps.status import append_flag
from dfos.workspace import init_workspace

OPEN = ["fits_Requested", "raw_Complete", "cal_AB", "cal_Queued", "cal_QC"]


def test_a_job_is_refused_only_past_processing() -> None:
    assert job_refusal(OPEN, "CALIB", "2013-02-12") is None
    assert job_refusal([*OPEN, "sci_Updated"], "CALIB", "2013-02-12") is None  # the other mode does not count
    certified = job_refusal([*OPEN, "cal_Certif"], "CALIB", "2013-02-12")
    assert certified is not None and "already certified (cal_Certif" in certified and "dfos reset" in certified
    moved = job_refusal([*OPEN, "cal_Certif", "cal_Updated"], "CALIB", "2013-02-12")
    assert moved is not None and "already moved" in moved and "\n" not in moved
    assert "finished" in (job_refusal([*OPEN, "finished"], "SCIENCE", "2013-02-12") or "")
    assert job_refusal([*OPEN, "cal_Certif", "cal_Reset"], "CALIB", "2013-02-12") is None


def test_a_reset_forgets_its_modes_flags_only() -> None:
    flags = [*OPEN, "sci_AB", "cal_Certif", "cal_Reset", "cal_AB"]
    assert effective_flags(flags) == ["fits_Requested", "raw_Complete", "sci_AB", "cal_AB"]
    assert mode_stage(flags, "CALIB") == "AB" and mode_stage(flags[:-1], "CALIB") is None
    assert reset_refusal([*OPEN, "cal_Certif"], "CALIB", "2013-02-12") is None
    refused = reset_refusal([*OPEN, "cal_Certif", "cal_Updated"], "CALIB", "2013-02-12")
    assert refused is not None and "--force" in refused
    assert reset_refusal([*OPEN, "cal_Updated"], "CALIB", "2013-02-12", force=True) is None
    assert reset_refusal([*OPEN, "finished"], "SCIENCE", "2013-02-12") is not None


MOVED_CALIB = [*OPEN, "cal_Certif", "cal_Updated"]


def test_a_reset_mode_holds_finish_back_until_it_is_created_again() -> None:
    """CALIB moved, SCIENCE reset to run again (no AB list left): finish, which deletes the raw frames the
    SCIENCE ABs need, waits for the SCIENCE createAB; an empty SCIENCE createAB then lets the date close."""
    reset = [*MOVED_CALIB, "sci_AB", "sci_QC", "sci_Reset"]
    assert reset_pending(reset, "SCIENCE") and not reset_pending(reset, "CALIB")
    assert not reset_pending([*reset, "sci_AB"], "SCIENCE") and not reset_pending(OPEN, "SCIENCE")
    facts = DateFacts(n_cal_abs=5, n_sci_abs=0)
    assert evaluate_date(date(2013, 2, 12), reset, False, facts).finish is StepState.WAIT
    assert evaluate_date(date(2013, 2, 12), [*reset, "sci_AB"], False, facts).finish is StepState.OFFER
    assert evaluate_date(date(2013, 2, 12), MOVED_CALIB, False, facts).finish is StepState.OFFER


def test_finish_refuses_a_date_with_a_reset_mode(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "ws", env={}, instrument="NACO")
    day = date(2013, 2, 12)
    for flag in ["raw_Complete", "cal_AB", "cal_QC", "cal_Certif", "cal_Updated", "sci_AB", "sci_Reset"]:
        append_flag(ws, flag, day)
    with pytest.raises(StateError, match=r"SCIENCE 2013-02-12 was reset and not run again: create its ABs first "
                                         r"\('dfos create-ab -m SCIENCE -d 2013-02-12'\)"):
        finish(ws, day)
    assert ws.status_log.read()[-1].flag == "sci_Reset"


def test_a_block_that_ran_is_commented_out_and_still_parsed() -> None:
    first = JobBlock("CALIB", "2013-02-12", "w", "$DFO_JOB_DIR/execAB_CALIB_2013-02-12",
                     "$DFO_JOB_DIR/execQC_CALIB_2013-02-12", "$DFO_JOB_DIR/rawDown_CALIB_2013-02-12")
    second = JobBlock("CALIB", "2013-02-13", "w", "$DFO_JOB_DIR/execAB_CALIB_2013-02-13",
                      "$DFO_JOB_DIR/execQC_CALIB_2013-02-13")
    header = "#!/usr/bin/env bash\nset -euo pipefail\nDFOS_ROOT=x\nexport DFOS_ROOT\nDFOS=/bin/dfos\n"
    text = header + "".join("\n" + "\n".join(render_block(b)) + "\n" for b in (first, second))
    assert pending_commands(header) == 0 and pending_commands(text) == 2 * len(render_block(second)) - 1
    marker = executed_marker("2013-02-13T14:00:00", "q c;rm", 0)
    assert marker == "# executed 2013-02-13T14:00:00 by q_c_rm, exit 0"
    marked, count = mark_executed(text, "CALIB", "2013-02-12", marker)
    assert count == 1 and mark_executed(marked, "CALIB", "2013-02-12", marker)[1] == 0  # once
    assert parse_blocks(marked) == [JobBlock(**{**first.__dict__, "executed": marker.removeprefix("# executed ")}),
                                    second]
    assert pending_commands(marked) == len(render_block(second)) - 1
    kept, gone = drop_blocks(marked, lambda s: s.date == "2013-02-12")
    assert [s.date for s in gone] == ["2013-02-12"] and parse_blocks(kept) == [second]
    assert kept.startswith(header) and "\n\n\n" not in kept
