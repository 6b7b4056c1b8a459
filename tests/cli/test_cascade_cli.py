"""``dfos create-job``, ``exec-cascade``, ``cascade-stat``, ``stop-cascade``, ``watch-queue``, the job file."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from dfos.cli.main import main
from dfos.steps.create_ab import create_abs
from dfos.steps.headers import extract_headers
from dfos.workspace import Workspace

pytestmark = pytest.mark.esorex
DAG = "CALIB_2013-02-12"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def night(uves_night: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    extract_headers(uves_night, date(2013, 2, 12))
    create_abs(uves_night, date(2013, 2, 12), "CALIB")
    monkeypatch.setenv("DFOS_ROOT", str(uves_night.root))
    return uves_night


def test_create_job_writes_the_files_and_queues(capsys: pytest.CaptureFixture[str], night: Workspace) -> None:
    code, out, _ = run(capsys, "create-job", "-m", "CALIB", "-d", "2013-02-12")
    assert code == 0 and "(7 ABs)" in out
    exec_ab = (night.job_dir / f"execAB_{DAG}").read_text().splitlines()
    dark = ("UVES.2013-02-12T18:40:00.500_tpl.ab || processAB || -a UVES.2013-02-12T18:40:00.500_tpl.ab || "
            "UVES.2013-02-12T18:05:00.500_tpl.ab")
    assert dark in exec_ab
    job = night.job_dir / "JOBS_NIGHT"
    assert os.access(job, os.X_OK)
    text = job.read_text()
    assert f'"$DFOS" exec-cascade --dag-id {DAG} --jobs "$DFO_JOB_DIR"/execAB_{DAG} --wait' in text
    assert text.index("rawDown_") < text.index("exec-cascade") < text.index("execQC_") < text.index("end-job -m CALIB")
    assert night.status_log.read()[-1].flag == "cal_Queued"
    code, out, _ = run(capsys, "create-job", "-d", "2013-02-12", "-a", "UVES.2013-02-12T18:05:00.500_tpl.ab")
    sub = (night.job_dir / f"execAB_{DAG}_sub").read_text()
    assert [line.split(" || ")[0] for line in sub.splitlines() if not line.startswith("#")] == [
        "UVES.2013-02-12T18:05:00.500_tpl.ab", "UVES.2013-02-12T18:40:00.500_tpl.ab",
        "UVES.2013-02-12T21:52:00.500_tpl.ab"]


def test_the_job_file_processes_the_date(capsys: pytest.CaptureFixture[str], night: Workspace) -> None:
    run(capsys, "create-job", "-d", "2013-02-12")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFOS_")}
    done = subprocess.run([str(night.job_dir / "JOBS_NIGHT")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    code, out, _ = run(capsys, "cascade-stat", "--dag-id", DAG, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["dag_id"] == DAG
    assert sorted(a["state"] for a in doc["abs"]) == ["incomplete"] * 2 + ["succeeded"] * 5
    assert set(doc["abs"][0]) == {"ab", "state", "attempts", "exit_code", "wall_s", "reason", "reused_from"}
    assert night.status_log.read()[-1].flag == "cal_QC"
    code, out, _ = run(capsys, "watch-queue", "--dag-id", DAG, "--once")
    assert code == 0 and "5 succeeded" in out
    code, _, err = run(capsys, "create-job", "-d", "2013-02-12")  # everything is DONE now
    assert code == 3 and "no ABs to process" in err


def test_exec_cascade_exit_codes_and_stop(capsys: pytest.CaptureFixture[str], night: Workspace) -> None:
    run(capsys, "create-job", "-d", "2013-02-12")
    code, out, _ = run(capsys, "stop-cascade", "--dag-id", DAG)  # a stop requested before the start is dropped
    code, out, _ = run(capsys, "exec-cascade", "--dag-id", DAG, "--jobs", str(night.job_dir / f"execAB_{DAG}"))
    assert code == 0 and "5 succeeded, 2 incomplete" in out, out
    code, _, err = run(capsys, "exec-cascade", "--dag-id", DAG, "--jobs", str(night.job_dir / "nope"))
    assert code == 2 and "no execution file" in err
    code, _, err = run(capsys, "cascade-stat", "--dag-id", "CALIB_1999-01-01")
    assert code == 2 and "no cascade CALIB_1999-01-01" in err


def test_create_job_twice_keeps_one_block_and_refuses_a_running_cascade(
        capsys: pytest.CaptureFixture[str], night: Workspace) -> None:
    from dfos.cascade.run import _single

    run(capsys, "create-job", "-d", "2013-02-12")
    run(capsys, "create-job", "-d", "2013-02-12")
    text = (night.job_dir / "JOBS_NIGHT").read_text()
    assert text.count("# pipeline jobs for CALIB, 2013-02-12") == 1
    with _single(night, DAG):  # as if an executor ran the cascade
        code, _, err = run(capsys, "create-job", "-d", "2013-02-12")
    assert code == 12 and "already being run" in err


@pytest.mark.parametrize("kind", ["SER", "PAR"])
def test_qc_job_types_run_the_qc_cascade(capsys: pytest.CaptureFixture[str], night: Workspace, kind: str) -> None:
    with (night.root / "dfos.toml").open("a") as config:
        config.write(f'\nQCBQS_TYPE = "{kind}"\n')
    run(capsys, "create-job", "-d", "2013-02-12")
    exec_qc = (night.job_dir / f"execQC_{DAG}").read_text()
    first = "UVES.2013-02-12T18:05:00.500_tpl.ab"
    assert (f"processQC -a {first}" if kind == "SER" else f"{first} || processQC || -a {first} || NONE") in exec_qc
    text = (night.job_dir / "JOBS_NIGHT").read_text()
    assert f"exec-cascade --dag-id QC_{DAG} --jobs \"$DFO_JOB_DIR\"/execQC_{DAG}" in text
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFOS_")}
    done = subprocess.run([str(night.job_dir / "JOBS_NIGHT")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    code, out, _ = run(capsys, "cascade-stat", "--dag-id", f"QC_{DAG}", "--json")
    states = sorted(a["state"] for a in json.loads(out)["abs"])
    assert states == ["incomplete"] * 2 + ["succeeded"] * 5  # QC of the two INCOMPLETE ABs never runs
    code, out, _ = run(capsys, "qc1", "-d", "2013-02-12", "--json")
    assert code == 0
    measured = {r["ab"] for r in json.loads(out)}
    assert measured == {first, "UVES.2013-02-12T18:20:00.500_tpl.ab", "UVES.2013-02-12T18:40:00.500_tpl.ab",
                        "UVES.2013-02-12T21:50:00.500_frm.ab", "UVES.2013-02-12T21:52:00.500_tpl.ab"}
    assert night.status_log.read()[-1].flag == "cal_QC"


def test_create_job_writes_a_dagman_dag_beside_the_exec_file(capsys: pytest.CaptureFixture[str],
                                                             night: Workspace) -> None:
    from dfos.executors.condor_dag import parse_dag, validate

    assert run(capsys, "--set", "RECIPE_LIMITS=uves_cal_mbias=1", "create-job", "-d", "2013-02-12")[0] == 0
    dag = parse_dag((night.job_dir / f"execAB_{DAG}.dag").read_text())
    assert validate(dag) == [] and len(dag.nodes) == 5  # the two INCOMPLETE ABs never run
    by_ab = {n.ab: n for n in dag.nodes}
    dark = by_ab["UVES.2013-02-12T18:40:00.500_tpl.ab"]
    assert [by_ab["UVES.2013-02-12T18:05:00.500_tpl.ab"].name] == list(dark.parents)
    assert dark.category == "uves_cal_mdark" and dag.maxjobs == (("uves_cal_mbias", 1),)
    submit = (night.job_dir / "dfos_ab.sub").read_text()
    assert "process-ab -a $(ab)" in submit and f"--root '{night.root}'" in submit


def test_process_ab_as_an_attempt_of_a_cascade(capsys: pytest.CaptureFixture[str], sleepy: Workspace,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """What a Slurm or HTCondor job runs: the run is recorded as that cascade's attempt, like a local one."""
    from sqlalchemy import select

    from chains import write_chain
    from dfos.db import ab_runs, engine_for_url

    write_chain(sleepy, 1, 0.0)
    monkeypatch.setenv("DFOS_ROOT", str(sleepy.root))
    monkeypatch.setenv("DFOS_ESOREX", sleepy.settings.ESOREX)
    code, _, err = run(capsys, "process-ab", "-a", "C0.ab", "--dag-id", DAG)
    assert code == 2 and "--dag-id and --attempt go together" in err
    code, _, _ = run(capsys, "process-ab", "-a", "C0.ab", "--dag-id", DAG, "--attempt", "3")
    assert code == 0
    with engine_for_url(sleepy.db_url).begin() as db:
        rows = db.execute(select(ab_runs.c.dag_id, ab_runs.c.attempt, ab_runs.c.status)).all()
    assert [tuple(r) for r in rows] == [(DAG, 3, "SUCCESSFUL")]
    assert not (sleepy.work_root / DAG / "C0.3").exists()  # a success leaves no working directory


def _one_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in err, lines
    return lines[0]


def test_a_cycle_in_an_exec_file_is_refused_before_anything_runs(capsys: pytest.CaptureFixture[str],
                                                                 sleepy: Workspace) -> None:
    from dataclasses import replace

    from chains import write_chain
    from dfos.ab.format import render
    from dfos.ab.store import read_ab

    jobs = write_chain(sleepy, 3, 0.0, recipe="noop")
    lines = jobs.read_text().splitlines()
    jobs.write_text("\n".join([lines[0].replace("|| NONE", "|| C2.ab"), *lines[1:]]) + "\n")  # C0 waits for C2
    code, _, err = run(capsys, "--root", str(sleepy.root), "exec-cascade", "--dag-id", "CYC", "--jobs", str(jobs))
    assert code == 5 and "C0.ab -> C2.ab -> C1.ab -> C0.ab" in _one_error(err) and str(jobs) in err
    assert [read_ab(sleepy.ab_dir, f"C{i}.ab").process_status.value for i in range(3)] == ["CREATED"] * 3
    serial = sleepy.job_dir / "execAB_serial"  # CPL: the parents come from the ABs' WAITFOR
    (sleepy.ab_dir / "C0.ab").write_text(render(replace(read_ab(sleepy.ab_dir, "C0.ab"), waitfor=("C2.ab",))))
    serial.write_text("".join(f"processAB -a C{i}.ab\n" for i in range(3)))
    code, _, err = run(capsys, "--root", str(sleepy.root), "exec-cascade", "--dag-id", "SER", "--jobs", str(serial))
    assert code == 5 and "cycle (C0.ab -> C2.ab -> C1.ab -> C0.ab" in _one_error(err) and "WAITFOR" in err


def test_a_duplicated_or_undecodable_exec_file_is_a_format_error(capsys: pytest.CaptureFixture[str],
                                                                 sleepy: Workspace) -> None:
    from chains import write_chain

    jobs = write_chain(sleepy, 2, 0.0, recipe="noop")
    text = jobs.read_text()
    jobs.write_text(text + text.splitlines()[0] + "\n")
    code, _, err = run(capsys, "--root", str(sleepy.root), "exec-cascade", "--dag-id", "DUP", "--jobs", str(jobs))
    assert code == 5 and "C0.ab is listed again (first at line 1)" in _one_error(err) and f"{jobs}:3" in err
    jobs.write_bytes(text.encode() + b"# caf\xe9\n")
    code, _, err = run(capsys, "--root", str(sleepy.root), "exec-cascade", "--dag-id", "ENC", "--jobs", str(jobs))
    assert code == 5 and f"{jobs}:3: byte " in _one_error(err) and "is not UTF-8 text" in _one_error(err)


def test_an_unsafe_cascade_id_is_a_usage_error(capsys: pytest.CaptureFixture[str], sleepy: Workspace,
                                               tmp_path: Path) -> None:
    from chains import write_chain

    jobs = write_chain(sleepy, 1, 0.0, recipe="noop")
    escape = f"X/../../../../../../..{tmp_path}/escaped"
    for argv in (["exec-cascade", "--jobs", str(jobs)], ["stop-cascade"], ["cascade-stat"]):
        code, _, err = run(capsys, "--root", str(sleepy.root), *argv, "--dag-id", escape)
        assert code == 2 and "cascade id" in _one_error(err), argv
    assert not list(tmp_path.glob("escaped*"))
