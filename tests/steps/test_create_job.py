"""createJob as a library step: the execution, QC and download files it writes for a date's ABs, the job
block, the subcascade of ``-a``, and what it refuses.  (``tests/cli/test_cascade_cli.py`` runs the files.)"""

from __future__ import annotations

import os
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from dfos.errors import NotFound, StateError, UsageError
from dfos.jobs.model import parse_blocks, parse_exec
from dfos.steps import create_job as create_job_module
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.headers import extract_headers
from dfos.workspace import Workspace, open_workspace
from nights import BIAS, DAG, DARK, FLAT, NIGHT, ORDERPOS, RED_BIAS

ENV = {"DFOS_NOW": "2013-02-13T14:00:00", "DFOS_ESOREX": "true"}
WAVES = ("UVES.2013-02-12T22:02:00.500_frm.ab", "UVES.2013-02-12T22:03:23.500_frm.ab")  # INCOMPLETE: no arc lamp
EVERY = (BIAS, RED_BIAS, DARK, ORDERPOS, FLAT, *WAVES)


def _open(ws: Workspace, **env: str) -> Workspace:
    return open_workspace(ws.root, env={**ENV, **env})


@pytest.fixture
def night(uves_night: Workspace) -> Workspace:
    """The small UVES night with its calibration ABs created (5 COMPLETE, 2 INCOMPLETE), nothing queued."""
    ws = _open(uves_night)
    extract_headers(ws, NIGHT)
    create_abs(ws, NIGHT, "CALIB")
    return ws


def _ab_list(ws: Workspace, mode: str = "CALIB") -> Path:
    return ws.mon_dir / f"AB_list_{mode}_2013-02-12"


def _tag_done(ws: Workspace, *names: str) -> None:
    """Tag ABs of the list DONE, as processAB does after a success (the list's own format: a last field)."""
    path = _ab_list(ws)
    lines = [line + "  DONE" if line.split()[0] in names else line for line in path.read_text().splitlines()]
    path.write_text("\n".join(lines) + "\n")


def test_a_date_is_queued_with_its_dependencies_a_dag_and_the_raw_frames_to_fetch(night: Workspace) -> None:
    files = create_job(night, NIGHT, "CALIB")
    assert files.abs == EVERY  # INCOMPLETE ABs are listed too; the cascade marks them, never runs them
    assert files.exec_ab == night.job_dir / f"execAB_{DAG}" and files.exec_qc == night.job_dir / f"execQC_{DAG}"
    exec_ab = parse_exec(files.exec_ab.read_text())
    assert exec_ab.kind == "CON" and [line.ab for line in exec_ab.lines] == list(EVERY)
    parents = {line.ab: line.parents for line in exec_ab.lines}
    assert parents[BIAS] == () and parents[DARK] == (BIAS,)
    assert parents[FLAT] == (BIAS, DARK, ORDERPOS)
    assert "# written by dfos create-job for CALIB 2013-02-12 at 2013-02-13T14:00:00" in files.exec_ab.read_text()
    dag = night.job_dir / f"execAB_{DAG}.dag"
    assert dag.is_file() and dag.read_text().count("\nJOB ") == 5  # the COMPLETE ABs only
    qc = parse_exec(files.exec_qc.read_text(), "IMPLICIT")
    assert qc.lines == ()  # IMPLICIT (the default): QC runs inside processAB
    assert files.exec_qc.stat().st_mode & 0o111
    raw = files.raw_down
    assert raw == night.job_dir / f"rawDown_{DAG}" and os.access(raw, os.X_OK)
    fetched = [line.strip().removesuffix(" \\") for line in raw.read_text().splitlines() if line.startswith("    ")]
    assert len(fetched) == len(set(fetched)) == 19 and "UVES.2013-02-12T18:05:00.500.fits" in fetched
    assert "UVES.2013-02-12T22:02:00.500.fits" not in fetched  # a frame of an INCOMPLETE AB only: never needed
    assert '"$DFOS" --root "$DFOS_ROOT" fetch-raw -d 2013-02-12 --parallel 8' in raw.read_text()
    assert str(night.root) not in raw.read_text()
    assert files.mcal_down is None  # no master reduced to a header


def test_the_job_block_and_the_queued_flag(night: Workspace) -> None:
    files = create_job(night, NIGHT, "CALIB")
    assert files.job_file == night.job_dir / "JOBS_NIGHT" and os.access(files.job_file, os.X_OK)
    text = files.job_file.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and '--root "$DFOS_ROOT" env' in text
    assert str(night.root) not in text  # relocatable: the file finds its workspace from where it lies
    (block,) = parse_blocks(text)
    assert (block.mode, block.date, block.dag_id) == ("CALIB", "2013-02-12", DAG)
    assert block.exec_ab == f"$DFO_JOB_DIR/{files.exec_ab.name}" and block.raw_down == f"$DFO_JOB_DIR/rawDown_{DAG}"
    last = night.status_log.read()[-1]
    assert (last.flag, last.key, last.timestamp) == ("cal_Queued", "2013-02-12", datetime(2013, 2, 13, 14, 0))


def test_the_automatic_queue_writes_its_own_job_file(night: Workspace) -> None:
    files = create_job(night, NIGHT, "CALIB", auto=True)
    assert files.job_file == night.job_dir / "JOBS_AUTO"
    assert not (night.job_dir / "JOBS_NIGHT").exists()


def test_queueing_again_replaces_the_dates_block_and_keeps_the_others(night: Workspace) -> None:
    create_job(night, NIGHT, "CALIB")
    job = night.job_dir / "JOBS_NIGHT"
    other = job.read_text().split("\n\n", 1)[1].replace("2013-02-12", "2013-02-11")  # an earlier date's block
    job.write_text(job.read_text() + "\n" + other)
    create_job(_open(night, DFOS_NOW="2013-02-13T15:00:00"), NIGHT, "CALIB")
    blocks = parse_blocks(job.read_text())
    assert [(b.date, b.written.rsplit(" ", 1)[-1]) for b in blocks] == [
        ("2013-02-11", "2013-02-13T14:00:00"), ("2013-02-12", "2013-02-13T15:00:00")]


@pytest.mark.parametrize(("drs", "parents_of_flat", "parallel", "dag"), [
    ("CON", (BIAS, DARK, ORDERPOS), False, True),
    ("CPL", (), False, False),  # serial: the order of the file is the dependency
    ("INT", (), True, False),  # one AB at a time, its recipe on every core
])
def test_the_drs_type_decides_dependencies_and_parallelism(night: Workspace, drs: str,
                                                           parents_of_flat: tuple[str, ...], parallel: bool,
                                                           dag: bool) -> None:
    files = create_job(_open(night, DFOS_DRS_TYPE=drs), NIGHT, "CALIB")
    exec_ab = parse_exec(files.exec_ab.read_text())
    assert exec_ab.kind == drs
    assert {line.ab: line.parents for line in exec_ab.lines}[FLAT] == parents_of_flat
    assert {line.local_parallel for line in exec_ab.lines} == {parallel}
    assert (night.job_dir / f"execAB_{DAG}.dag").exists() is dag


@pytest.mark.parametrize("qc", ["SER", "PAR"])
def test_explicit_qc_types_list_a_qc_job_per_ab(night: Workspace, qc: str) -> None:
    files = create_job(_open(night, DFOS_QCBQS_TYPE=qc), NIGHT, "CALIB")
    assert files.exec_qc is not None
    text = files.exec_qc.read_text()
    assert f"# QCBQS_TYPE {qc}" in text
    assert ("||" in text) is (qc == "PAR")  # SER: one after the other; PAR: lines with (no) parents
    exec_qc = parse_exec(text, qc)
    assert [(line.ab, line.program, line.parents) for line in exec_qc.lines] == [
        (ab, "processQC", ()) for ab in EVERY]


def test_raw_frames_on_disk_are_not_fetched_and_a_stale_download_file_goes(night: Workspace) -> None:
    assert create_job(night, NIGHT, "CALIB").raw_down is not None
    raw = night.raw_dir / "2013-02-12"
    raw.mkdir(parents=True, exist_ok=True)
    for frame in night.archive_dir.rglob("*.fits"):
        os.link(frame, raw / frame.name)
    files = create_job(night, NIGHT, "CALIB")
    assert files.raw_down is None and not (night.job_dir / f"rawDown_{DAG}").exists()
    assert files.job_file is not None
    (block,) = parse_blocks(files.job_file.read_text())
    assert block.raw_down is None


def test_a_download_file_fetches_at_most_the_first_frames(night: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(create_job_module, "RAW_DOWNLOAD_LIMIT", 3)
    files = create_job(night, NIGHT, "CALIB")
    assert files.raw_down is not None
    fetched = [line.strip().removesuffix(" \\") for line in files.raw_down.read_text().splitlines()
               if line.startswith("    ")]
    assert fetched == ["UVES.2013-02-12T18:05:00.500.fits", "UVES.2013-02-12T18:06:08.500.fits",
                       "UVES.2013-02-12T18:07:16.500.fits"]
    assert files.raw_down.read_text().rstrip().endswith("UVES.2013-02-12T18:07:16.500.fits")  # no dangling "\"


def test_abs_done_are_not_queued_again(night: Workspace) -> None:
    _tag_done(night, BIAS, RED_BIAS)
    files = create_job(night, NIGHT, "CALIB")
    assert files.abs == (DARK, ORDERPOS, FLAT, *WAVES)
    parents = {line.ab: line.parents for line in parse_exec(files.exec_ab.read_text()).lines}
    assert parents[DARK] == () and parents[FLAT] == (DARK, ORDERPOS)  # a DONE parent is nothing to wait for


def test_nothing_to_run_is_refused(night: Workspace) -> None:
    _tag_done(night, BIAS, RED_BIAS, DARK, ORDERPOS, FLAT)  # only INCOMPLETE ABs left: none can run
    with pytest.raises(StateError, match="no ABs to process for CALIB 2013-02-12"):
        create_job(night, NIGHT, "CALIB")
    _ab_list(night).unlink()
    with pytest.raises(StateError, match="run 'dfos create-ab -m CALIB -d 2013-02-12' first"):
        create_job(night, NIGHT, "CALIB")
    assert not (night.job_dir / "JOBS_NIGHT").exists()
    assert "cal_Queued" not in [line.flag for line in night.status_log.read()]


def test_the_mode_is_read_in_any_case_and_checked(night: Workspace) -> None:
    with pytest.raises(UsageError, match="is not CALIB or SCIENCE"):
        create_job(night, NIGHT, "BOTH")
    assert create_job(night, NIGHT, "calib").exec_ab == night.job_dir / f"execAB_{DAG}"


def test_science_abs_are_queued_beside_the_calibrations_without_downloads(night: Workspace) -> None:
    create_job(night, NIGHT, "CALIB")
    shutil.copy(_ab_list(night), _ab_list(night, "SCIENCE"))  # the same ABs, listed for the SCIENCE mode
    files = create_job(night, NIGHT, "SCIENCE")
    assert files.exec_ab == night.job_dir / "execAB_SCIENCE_2013-02-12"
    assert files.raw_down is None and files.mcal_down is None  # downloads are a CALIB matter
    assert night.status_log.read()[-1].flag == "sci_Queued"
    blocks = parse_blocks((night.job_dir / "JOBS_NIGHT").read_text())
    assert [(b.mode, b.dag_id) for b in blocks] == [("CALIB", DAG), ("SCIENCE", "SCIENCE_2013-02-12")]
    assert '"$DFOS" end-job -m SCIENCE -d 2013-02-12' in (night.job_dir / "JOBS_NIGHT").read_text()


def test_science_abs_keep_their_parents_of_the_calib_batch_which_the_dag_does_not_name(night: Workspace) -> None:
    from chains import write_ab

    for name, waitfor in (("SCI1.ab", (FLAT,)), ("SCI2.ab", ("SCI1.ab", DARK))):
        write_ab(night, name, waitfor, "noop", batch_id="SCIENCE_2013-02-12")
    _ab_list(night, "SCIENCE").write_text("SCI1.ab  SCI  noop  COMPLETE\nSCI2.ab  SCI  noop  COMPLETE\n")
    files = create_job(night, NIGHT, "SCIENCE")
    parents = {line.ab: line.parents for line in parse_exec(files.exec_ab.read_text()).lines}
    assert parents == {"SCI1.ab": (FLAT,), "SCI2.ab": ("SCI1.ab", DARK)}  # the calibrations are waited for
    dag = (night.job_dir / "execAB_SCIENCE_2013-02-12.dag").read_text()
    nodes = [line for line in dag.splitlines() if line.startswith(("JOB ", "PARENT "))]
    assert len([line for line in nodes if line.startswith("JOB ")]) == 2
    assert not any(FLAT in line or DARK in line for line in nodes)  # DAGMan cannot see another cascade's ABs
    assert f"# 2 parent(s) in other cascades, not nodes here: {DARK}, {FLAT}" in dag
    sub = create_job(night, NIGHT, "SCIENCE", subcascade="SCI2.ab")
    assert {line.ab: line.parents for line in parse_exec(sub.exec_ab.read_text()).lines} == {"SCI2.ab": (DARK,)}


def test_a_subcascade_is_the_ab_and_what_depends_on_it(night: Workspace) -> None:
    create_job(night, NIGHT, "CALIB")
    job_before = (night.job_dir / "JOBS_NIGHT").read_text()
    flags_before = night.status_log.read()
    _tag_done(night, *EVERY[:5])  # processed already: -a redoes DONE ABs
    files = create_job(night, NIGHT, "CALIB", subcascade=f"/somewhere/else/{BIAS}")  # a path: its name counts
    assert files.exec_ab == night.job_dir / f"execAB_{DAG}_sub"
    assert files.abs == (BIAS, DARK, FLAT)
    parents = {line.ab: line.parents for line in parse_exec(files.exec_ab.read_text()).lines}
    assert parents == {BIAS: (), DARK: (BIAS,), FLAT: (BIAS, DARK)}  # ORDERPOS is not redone: not waited for
    assert f"'dfos exec-cascade --dag-id {DAG}_sub'" in files.exec_ab.read_text()
    assert (files.exec_qc, files.raw_down, files.mcal_down, files.job_file) == (None, None, None, None)
    assert (night.job_dir / "JOBS_NIGHT").read_text() == job_before  # no block, no flag: run by hand
    assert night.status_log.read() == flags_before


def test_a_subcascade_of_an_unknown_ab_is_refused(night: Workspace) -> None:
    with pytest.raises(NotFound, match=re.escape("nope.ab is not an AB of CALIB 2013-02-12")):
        create_job(night, NIGHT, "CALIB", subcascade="nope.ab")
    assert not (night.job_dir / f"execAB_{DAG}_sub").exists()
