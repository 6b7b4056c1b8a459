"""The Slurm executor's pure parts: what squeue and sacct print, the sbatch argument list, request checks.

The executor itself runs against a real cluster in test_backends.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dfos.config.load import JobResources
from dfos.errors import DfosError
from dfos.executors.base import Task
from dfos.executors.slurm import SlurmExecutor, parse_sacct, parse_squeue, sbatch_argv


def test_squeue_lines_are_read_by_job_id() -> None:
    text = "2|CANCELLED|DependencyNeverSatisfied|0:00\n3|COMPLETED|None|0:02\n1|FAILED|NonZeroExitCode|0:00\n"
    jobs = parse_squeue(text)
    assert jobs["2"].state == "CANCELLED" and jobs["2"].reason == "DependencyNeverSatisfied"
    assert jobs["3"].elapsed == "0:02" and set(jobs) == {"1", "2", "3"}


def test_sacct_lines_skip_steps_and_read_cancelled_by() -> None:
    text = "7|CANCELLED by 0|0:0|00:00:00\n7.batch|CANCELLED|0:15|00:00:00\n8|COMPLETED|0:0|00:00:02\n"
    jobs = parse_sacct(text)
    assert set(jobs) == {"7", "8"} and jobs["7"].state == "CANCELLED" and jobs["8"].state == "COMPLETED"


def test_the_sbatch_argument_list_waits_for_parents_and_never_builds_a_shell_string() -> None:
    name = "UVES.2013-02-12T18:05:00.500_tpl; rm -rf ~.ab"
    task = Task(name, ("processAB", "-a", name), "uves_cal_mbias", 1, "CALIB_2013-02-12", 2, ("p1", "p2"))
    argv = sbatch_argv(task, Path("/ws/jobs/batch/dfos_job.sh"), ["/venv/bin/dfos", "--root", "/ws"],
                       Path("/ws/jobs/batch/x.out"), Path("/ws"), JobResources(2, 4096, 30), ["11", "12"],
                       ["--partition=qc"])
    assert argv[:2] == ["sbatch", "--parsable"]
    assert "--dependency=afterok:11:12" in argv and "--kill-on-invalid-dep=yes" in argv
    assert {"--cpus-per-task=2", "--mem=4096M", "--time=30", "--partition=qc"} <= set(argv)
    tail = argv[argv.index("/ws/jobs/batch/dfos_job.sh") + 1:]
    assert tail == ["/venv/bin/dfos", "--root", "/ws", "process-ab", "-a", name, "--dag-id", "CALIB_2013-02-12",
                    "--attempt", "2", "--threads", "2"]


def test_a_qc_task_runs_process_qc_and_a_root_task_waits_for_nothing() -> None:
    task = Task("A.ab", ("processQC", "-a", "A.ab"), "qc", 1, "QC_CALIB_2013-02-12", 1)
    argv = sbatch_argv(task, Path("/s.sh"), ["dfos"], Path("/o"), Path("/"), JobResources(), [], [])
    assert not any(a.startswith("--dependency") for a in argv)
    assert argv[-4:] == ["dfos", "process-qc", "-a", "A.ab"]
    assert not any(a.startswith(("--mem", "--time")) for a in argv)


def _fake(outputs: dict[str, str]):  # type: ignore[no-untyped-def]
    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 0, outputs.get(argv[0], ""), "")
    return run


def test_requests_no_node_can_hold_are_refused_before_submitting(tmp_path: Path) -> None:
    executor = SlurmExecutor(["dfos"], tmp_path, tmp_path, {"*": JobResources(), "uves_cal_mflat": JobResources(4)},
                             run=_fake({"sinfo": "2|20000\n"}))
    task = Task("F.ab", ("processAB", "-a", "F.ab"), "uves_cal_mflat", 1, "CALIB_2013-02-12", 1)
    with pytest.raises(DfosError, match="asks 4 CPUs / 0 MB for uves_cal_mflat, but the largest Slurm node has "
                                        "2 CPUs / 20000 MB"):
        executor.submit(task)


def test_a_refused_submission_stops_with_sbatch_s_reason(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        if argv[0] == "sinfo":
            return subprocess.CompletedProcess(argv, 0, "2|20000\n", "")
        return subprocess.CompletedProcess(argv, 1, "", "sbatch: error: Invalid account or partition\n")

    executor = SlurmExecutor(["dfos"], tmp_path, tmp_path, {"*": JobResources()}, run=run)
    with pytest.raises(DfosError) as caught:
        executor.submit(Task("A.ab", ("processAB", "-a", "A.ab"), "r", 1, "D", 1))
    assert caught.value.message == "sbatch refused the job of A.ab: sbatch: error: Invalid account or partition"
    assert sum(c[0] == "sbatch" for c in calls) == 4  # tried again briefly, then gave up
    assert (tmp_path / "dfos_job.sh").read_text().endswith('exec "$@"\n')


def test_a_failing_squeue_loses_no_job(tmp_path: Path) -> None:
    answers = {"squeue": (1, ""), "sacct": (1, "")}

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        if argv[0] == "sinfo":
            return subprocess.CompletedProcess(argv, 0, "2|20000\n", "")
        if argv[0] == "sbatch":
            return subprocess.CompletedProcess(argv, 0, "41\n", "")
        code, out = answers[argv[0]]
        return subprocess.CompletedProcess(argv, code, out, "slurm_load_jobs error: Socket timed out")

    executor = SlurmExecutor(["dfos"], tmp_path, tmp_path, {"*": JobResources()}, poll_interval=0.0, run=run)
    executor.submit(Task("A.ab", ("processAB", "-a", "A.ab"), "r", 1, "D", 1))
    assert executor.poll(0) == []  # no answer is not "gone"
    answers["squeue"] = (0, "41|COMPLETED|None|0:03\n")
    [outcome] = executor.poll(0)
    assert outcome.ok and outcome.backend_id == "41" and not outcome.lost


def test_an_unreachable_cluster_is_one_clear_line(tmp_path: Path) -> None:
    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, "", "sinfo: error: fetch_config: DNS SRV lookup failed\n"
                                                        "sinfo: fatal: Could not establish a configuration source\n")

    executor = SlurmExecutor(["dfos"], tmp_path, tmp_path, {"*": JobResources()}, run=run)
    with pytest.raises(DfosError) as caught:
        executor.submit(Task("A.ab", ("processAB", "-a", "A.ab"), "r", 1, "D", 1))
    assert caught.value.message == ("sinfo failed (sinfo: fatal: Could not establish a configuration source); "
                                    "is the Slurm cluster up, and SLURM_CONF right?")
