"""processAB's bookkeeping without esorex: PROCESS_STATUS written in place, set right after a power cut."""

from __future__ import annotations

import os

from chains import write_chain
from dfos.ab.model import ProcessStatus
from dfos.steps.cascade import exec_cascade
from dfos.steps.process_ab import load_ab, process_ab, set_process_status
from dfos.workspace import Workspace


def test_the_status_is_overwritten_in_place(sleepy: Workspace) -> None:
    write_chain(sleepy, 1, 0)
    path = sleepy.ab_dir / "C0.ab"
    before, inode = path.read_text(), path.stat().st_ino
    assert "PROCESS_STATUS  CREATED   \n" in before  # padded to the longest status
    for status in (ProcessStatus.SUCCESSFUL, ProcessStatus.FAILED, ProcessStatus.CREATED):
        set_process_status(sleepy, load_ab(sleepy, "C0.ab"), status)
        assert load_ab(sleepy, "C0.ab").process_status is status
        assert path.stat().st_ino == inode  # the same file: no temporary copy renamed over it
    assert path.read_text() == before
    assert not [p for p in sleepy.ab_dir.iterdir() if p.name.startswith(".C0.ab")]


def test_an_ab_written_by_hand_without_padding_is_rewritten(sleepy: Workspace) -> None:
    write_chain(sleepy, 1, 0)
    path = sleepy.ab_dir / "C0.ab"
    path.write_text(path.read_text().replace("PROCESS_STATUS  CREATED   \n", "PROCESS_STATUS CREATED\n"))
    set_process_status(sleepy, load_ab(sleepy, "C0.ab"), ProcessStatus.SUCCESSFUL)
    assert "PROCESS_STATUS  SUCCESSFUL\n" in path.read_text()
    set_process_status(sleepy, load_ab(sleepy, "C0.ab"), ProcessStatus.FAILED)
    assert "PROCESS_STATUS  FAILED    \n" in path.read_text()


def test_a_run_sets_the_status_and_leaves_no_working_directory(sleepy: Workspace) -> None:
    write_chain(sleepy, 1, 0)
    run = process_ab(sleepy, "C0.ab")
    assert run.ok, run.message
    assert load_ab(sleepy, "C0.ab").process_status is ProcessStatus.SUCCESSFUL
    assert os.listdir(sleepy.work_root) == []


def test_a_status_lost_in_a_power_cut_is_set_right_when_the_cascade_ends(sleepy: Workspace) -> None:
    jobs = write_chain(sleepy, 3, 0)
    assert exec_cascade(sleepy, "CALIB_2013-02-12", jobs, slots=2).ok
    # the database knows C1 succeeded; its file lost the unsynced status write
    set_process_status(sleepy, load_ab(sleepy, "C1.ab"), ProcessStatus.CREATED)
    again = exec_cascade(sleepy, "CALIB_2013-02-12", jobs, slots=2)
    assert again.ok and again.counts["succeeded"] == 3
    assert load_ab(sleepy, "C1.ab").process_status is ProcessStatus.SUCCESSFUL


def test_qc_of_an_ab_that_did_not_succeed_is_refused_and_logged(sleepy: Workspace) -> None:
    from dfos.steps.cascade import run_qc_task
    from dfos.steps.process_qc import qc_log

    write_chain(sleepy, 1, 0)
    ok, code, message = run_qc_task(sleepy, "C0.ab")
    assert (ok, code) == (False, None) and "C0.ab is CREATED, not SUCCESSFUL" in message
    assert "FAILED: C0.ab is CREATED" in qc_log(sleepy, "C0.ab").read_text()


def test_an_empty_execution_file_is_an_empty_cascade(sleepy: Workspace) -> None:
    jobs = sleepy.job_dir / "execQC_CALIB_2013-02-12"
    jobs.write_text("# QCBQS_TYPE IMPLICIT: processQC runs inside processAB\n")
    result = exec_cascade(sleepy, "QC_CALIB_2013-02-12", jobs, slots=2)
    assert result.ok and sum(result.counts.values()) == 0
