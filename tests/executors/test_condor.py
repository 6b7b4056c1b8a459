"""The HTCondor executor's pure parts: node status files, argument quoting, the DAG of a round.

The executor itself runs against a real personal pool in test_backends.py (make test-condor).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dfos.config.load import JobResources
from dfos.errors import DfosError
from dfos.executors.base import Handle, Task
from dfos.executors.condor import FUTILE, CondorExecutor, NodeStatus, condor_arguments, parse_node_status
from dfos.executors.condor_dag import parse_dag

STATUS = """[
  Type = "DagStatus";
  DagFiles = {
    "/w/jobs/batch/CALIB_2013-02-12.r1.dag"
  };
  DagStatus = 3; /* "STATUS_SUBMITTED ()" */
  NodesTotal = 3;
]
[
  Type = "NodeStatus";
  Node = "C0.ab";
  NodeStatus = 6; /* "STATUS_ERROR" */
  StatusDetails = "Job proc (12.0.0) failed with status 10";
  RetryCount = 0;
]
[
  Type = "NodeStatus";
  Node = "C1.ab";
  NodeStatus = 7; /* "STATUS_FUTILE" */
  StatusDetails = "";
]
[
  Type = "StatusEnd";
  EndTime = 1795333877; /* "Sun Nov 22 07:51:17 2026" */
  NextUpdate = 0; /* "none" */
]
"""


def test_node_status_files_are_read_node_by_node() -> None:
    ads = parse_node_status(STATUS)
    assert ads["C0.ab"]["NodeStatus"] == "6"
    assert ads["C0.ab"]["StatusDetails"] == "Job proc (12.0.0) failed with status 10"
    assert int(ads["C1.ab"]["NodeStatus"]) == FUTILE
    assert ads[""]["DagStatus"] == "3" and "StatusEnd" not in ads


def test_arguments_are_single_quoted_words() -> None:
    assert condor_arguments(["--root", "/a b", "it's"]) == "'--root' '/a b' 'it''s'"
    with pytest.raises(DfosError, match="double quote"):
        condor_arguments(['say "x"'])


def test_a_round_is_one_validated_dag_with_the_parents_and_limits(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, "1 job(s) submitted to cluster 42.\n", "")

    executor = CondorExecutor(["chroot", "/pool"], ["/venv/bin/dfos", "--root", "/w"], tmp_path,
                              {"*": JobResources(), "uves_cal_mflat": JobResources(2, 2048)}, {"uves_cal_mflat": 1},
                              run=run)
    bias = Task("B.ab", ("processAB", "-a", "B.ab"), "uves_cal_mbias", 1, "CALIB_2013-02-12", 1)
    flat = Task("F x.ab", ("processAB", "-a", "F x.ab"), "uves_cal_mflat", 1, "CALIB_2013-02-12", 3, ("B.ab",))
    executor.submit(bias)
    executor.submit(flat)
    handles = executor.flush()
    assert [(h.name, h.backend_id) for h in handles] == [("B.ab", "42/B.ab"), ("F x.ab", "42/F_x.ab")]
    assert calls == [["chroot", "/pool", "condor_submit_dag", "-batch-name", "CALIB_2013-02-12", "-notification",
                      "never", str(tmp_path / "CALIB_2013-02-12.r1.dag")]]
    dag = parse_dag((tmp_path / "CALIB_2013-02-12.r1.dag").read_text())
    nodes = {n.name: n for n in dag.nodes}
    assert nodes["F_x.ab"].parents == ("B.ab",) and nodes["F_x.ab"].retry == 0
    assert dict(nodes["F_x.ab"].vars)["dfos_args"] == \
        "'--root' '/w' 'process-ab' '-a' 'F x.ab' '--dag-id' 'CALIB_2013-02-12' '--attempt' '3' '--threads' '2'"
    assert dict(nodes["F_x.ab"].vars)["mem"] == "2048" and dag.maxjobs == (("uves_cal_mflat", 1),)
    assert dag.node_status_file == f"{tmp_path}/CALIB_2013-02-12.r1.dag.status" and dag.status_interval == 1
    submit = (tmp_path / "dfos_condor.sub").read_text()
    assert "executable = /venv/bin/dfos" in submit and 'arguments = "$(dfos_args)"' in submit
    assert (tmp_path / "CALIB_2013-02-12.rounds").read_text() == "42 CALIB_2013-02-12.r1.dag\n"


def test_a_task_behind_a_parent_of_an_earlier_round_waits_for_it(tmp_path: Path) -> None:
    clusters = iter(["7", "8"])

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        if argv[0] == "condor_q":
            return subprocess.CompletedProcess(argv, 0, "7\n", "")
        return subprocess.CompletedProcess(argv, 0, f"1 job(s) submitted to cluster {next(clusters)}.\n", "")

    executor = CondorExecutor([], ["dfos"], tmp_path, {"*": JobResources()}, poll_interval=0.0, run=run)
    executor.submit(Task("A.ab", ("processAB", "-a", "A.ab"), "r", 1, "D", 1))
    assert [h.backend_id for h in executor.flush()] == ["7/A.ab"]
    executor.submit(Task("B.ab", ("processAB", "-a", "B.ab"), "r", 1, "D", 1, ("A.ab",)))
    assert executor.flush() == []  # A runs in round 7: B cannot join that DAG, it waits
    (tmp_path / "D.r1.dag.status").write_text('[ Type = "NodeStatus"; Node = "A.ab"; NodeStatus = 5; ]')
    [done] = executor.poll(0)
    assert done.ok and done.backend_id == "7/A.ab"
    assert [h.backend_id for h in executor.flush()] == ["8/B.ab"]


def test_a_held_task_that_is_cancelled_is_never_submitted(tmp_path: Path) -> None:
    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        if argv[0] == "condor_q":
            return subprocess.CompletedProcess(argv, 0, "7\n", "")
        return subprocess.CompletedProcess(argv, 0, "1 job(s) submitted to cluster 7.\n", "")

    executor = CondorExecutor([], ["dfos"], tmp_path, {"*": JobResources()}, poll_interval=0.0, run=run)
    executor.submit(Task("A.ab", ("processAB", "-a", "A.ab"), "r", 1, "D", 1))
    executor.flush()
    held = executor.submit(Task("B.ab", ("processAB", "-a", "B.ab"), "r", 1, "D", 1, ("A.ab",)))
    assert executor.flush() == [] and held.backend_id == ""
    executor.cancel([held])  # e.g. stop-cascade
    (tmp_path / "D.r1.dag.status").write_text('[ Type = "NodeStatus"; Node = "A.ab"; NodeStatus = 5; ]')
    assert [o.name for o in executor.poll(0)] == ["A.ab"]
    assert executor.flush() == [] and not (tmp_path / "D.r2.dag").exists()


def test_reading_a_node_status_file_is_linear_whatever_it_holds() -> None:
    import threading

    hostile = ["[" * 200_000, "[" + "a=" * 200_000 + "]", "[" + "/*" * 200_000 + "]", '[ Node = "' * 100_000,
               "[" + "x" * 400_000 + "]"]
    results: list[dict[str, dict[str, str]]] = []
    worker = threading.Thread(target=lambda: results.extend(parse_node_status(text) for text in hostile), daemon=True)
    worker.start()
    worker.join(timeout=120)  # a hang guard: quadratic patterns took hours on these
    assert not worker.is_alive() and results == [{}] * len(hostile)
    assert parse_node_status('[ Type = "NodeStatus"; Node = "A;B"; Note = "x = y"; L = { "a;b" }; ]') == {
        "A;B": {"Type": "NodeStatus", "Node": "A;B", "Note": "x = y", "L": '{ "a;b" }'}}


def test_a_dag_line_with_an_unbalanced_quote_is_a_format_error() -> None:
    from dfos.errors import FormatError

    with pytest.raises(FormatError, match=r"fuzz\.dag:2"):
        parse_dag('JOB A a.sub\nPARENT "A CHILD B\n', "fuzz.dag")


def test_following_a_round_reports_each_node_s_end_and_start(tmp_path: Path) -> None:
    alive = ["7\n", ""]  # the DAGMan cluster, then gone (halted, removed)

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        if argv[0] == "condor_q":
            return subprocess.CompletedProcess(argv, 0, alive.pop(0), "")
        return subprocess.CompletedProcess(argv, 0, "1 job(s) submitted to cluster 7.\n", "")

    started: list[str] = []
    executor = CondorExecutor([], ["dfos"], tmp_path, {"*": JobResources()}, poll_interval=0.0, run=run)
    for name in "ABCDE":
        executor.submit(Task(f"{name}.ab", ("processAB", "-a", f"{name}.ab"), "r", 1, "D", 1),
                        lambda handle: started.append(handle.backend_id))
    executor.flush()
    states = {"A": NodeStatus.DONE, "B": NodeStatus.ERROR, "C": NodeStatus.FUTILE, "D": NodeStatus.SUBMITTED,
              "E": NodeStatus.READY}
    (tmp_path / "D.r1.dag.status").write_text("".join(
        f'[ Type = "NodeStatus"; Node = "{n}.ab"; NodeStatus = {int(s)};'
        + (' StatusDetails = "Job proc (7.1.0) failed with status 10";' if n == "B" else "") + " ]"
        for n, s in states.items()))
    ended = {o.name: o for o in executor.poll(0)}
    assert sorted(started) == ["7/A.ab", "7/B.ab", "7/D.ab"]  # their jobs started (and A, B ended)
    assert ended["A.ab"].ok and ended["A.ab"].exit_code == 0 and ended["A.ab"].backend_id == "7/A.ab"
    assert not ended["B.ab"].ok and ended["B.ab"].message == "Job proc (7.1.0) failed with status 10"
    assert ended["C.ab"].never_ran and sorted(ended) == ["A.ab", "B.ab", "C.ab"]
    ended = {o.name: o for o in executor.poll(0)}  # DAGMan is gone: D ran, how it ended is unknown; E never ran
    assert ended["D.ab"].lost and not ended["D.ab"].never_ran
    assert ended["E.ab"].never_ran and not ended["E.ab"].lost and ended["E.ab"].message == \
        "DAGMan 7 ended before this node ran"
    assert executor.poll(0) == [] and started == sorted(started)


def test_an_unknown_node_state_counts_as_not_ready() -> None:
    assert NodeStatus.of({"NodeStatus": "42"}) is NodeStatus.NOT_READY
    assert NodeStatus.of({}) is NodeStatus.NOT_READY and NodeStatus.of({"NodeStatus": "6"}) is NodeStatus.ERROR


def test_abort_halts_the_round_removes_its_node_jobs_and_forces_out_what_stays(tmp_path: Path) -> None:
    """stop-cascade --now from a dfos that did not submit the round: halt file, condor_rm of the DAGMan's node
    jobs (argument lists), -forcex for a job stuck as removed, the DAGMan removed when it does not leave."""
    (tmp_path / "D.rounds").write_text("7 D.r1.dag\n")
    queue = {"7.0": (2, "undefined"), "8.0": (2, "7"), "9.0": (1, "7")}
    calls: list[list[str]] = []

    def run(full: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(full)
        argv = full[2:]  # after CONDOR_COMMAND
        if argv[0] == "condor_q":
            lines = [f"{job.replace('.', ' ')} {status} {dagman}" for job, (status, dagman) in queue.items()]
            return subprocess.CompletedProcess(argv, 0, "\n".join(lines) + "\n", "")
        if argv[1:2] == ["-forcex"]:
            del queue["9.0"]
        elif argv[0] == "condor_rm" and "8.0" in argv:
            del queue["8.0"]  # it ends at once; 9.0 stays "removed"
            queue["9.0"] = (3, "7")
        elif argv[0] == "condor_rm" and argv[1:] == ["7.0"]:  # the DAGMan does not leave by itself here
            queue.clear()
        return subprocess.CompletedProcess(argv, 0, "", "")

    executor = CondorExecutor(["chroot", "pool"], ["dfos"], tmp_path, {"*": JobResources()}, poll_interval=0.0,
                              run=run)
    executor.abort([Handle("A.ab", "7/A.ab"), Handle("B.ab", "7/B.ab"), Handle("X", "")], wait=0.0)
    assert (tmp_path / "D.r1.dag.halt").exists()
    assert calls[0] == ["chroot", "pool", "condor_q", "-constraint", "ClusterId == 7 || DAGManJobId == 7", "-af",
                        "ClusterId", "ProcId", "JobStatus", "DAGManJobId"]
    removals = [c[2:] for c in calls if c[2] == "condor_rm"]
    assert removals == [["condor_rm", "8.0", "9.0"], ["condor_rm", "-forcex", "9.0"], ["condor_rm", "7.0"]]
    asked = len(calls)
    executor.abort([Handle("X", "")])  # nothing submitted: nothing asked
    assert len(calls) == asked


def test_abort_says_which_jobs_will_not_leave_the_queue(tmp_path: Path) -> None:
    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 0, "8 0 3 7\n" if "condor_q" in argv else "", "")

    executor = CondorExecutor([], ["dfos"], tmp_path, {"*": JobResources()}, poll_interval=0.0, run=run)
    with pytest.raises(DfosError, match=r"HTCondor jobs 8\.0 are still in the queue"):
        executor.abort([Handle("A.ab", "7/A.ab")], wait=0.0)
