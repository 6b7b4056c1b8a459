"""A cascade whose ABs wait for ABs of another cascade, on this machine: a SCIENCE-like cascade started before,
during or after the CALIB cascade whose ABs it needs (ABs whose recipe sleeps: no esorex needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import insert

from chains import write_ab, write_exec
from dfos.cascade.run import CascadeResult, cascade_state, request_stop
from dfos.cli.main import main
from dfos.db import ab_runs, certifications, engine_for_url
from dfos.steps.cascade import exec_cascade
from dfos.workspace import Workspace
from waiting import wait_until

CALIB, SCIENCE = "CALIB_2013-02-12", "SCIENCE_2013-02-12"
WAITING = "waiting for calibration C1.ab of CALIB_2013-02-12"


def two_cascades(ws: Workspace, failing: bool = False) -> tuple[Path, Path]:
    """The CALIB cascade C0 <- C1 (C1 fails for a raw frame that is nowhere when ``failing``) and the SCIENCE
    cascade S0 <- S1, where S0 waits for C1 of the CALIB cascade and S2 waits for nothing."""
    write_ab(ws, "C0.ab", (), "sleep0.2")
    write_ab(ws, "C1.ab", ("C0.ab",), "sleep0.2", raw=("UVES.2013-02-12T23:59:59.999.fits",) if failing else ())
    calib = write_exec(ws, CALIB, [("C0.ab", ()), ("C1.ab", ("C0.ab",))])
    for name, parents in (("S0.ab", ("C1.ab",)), ("S1.ab", ("S0.ab",)), ("S2.ab", ())):
        write_ab(ws, name, parents, "sleep0.1", batch_id=SCIENCE)
    science = write_exec(ws, SCIENCE, [("S0.ab", ("C1.ab",)), ("S1.ab", ("S0.ab",)), ("S2.ab", ())])
    return calib, science


def rows(ws: Workspace, dag: str) -> dict[str, dict[str, object]]:
    """The cascade's rows by AB; none while it has not written them yet."""
    try:
        return {str(r["ab"]): r for r in cascade_state(ws, dag)}
    except Exception:
        return {}


def ran(ws: Workspace) -> list[str]:
    with engine_for_url(ws.db_url).begin() as db:
        return sorted(str(r.ab) for r in db.execute(ab_runs.select()))


def waits(ws: Workspace) -> bool:
    """The SCIENCE cascade is under way: S2 ran, S0 waits for its calibration and says so."""
    found = rows(ws, SCIENCE)
    return bool(found) and found["S2.ab"]["state"] == "succeeded" and found["S0.ab"]["reason"] == WAITING


def in_thread(ws: Workspace, dag: str, jobs: Path) -> tuple[threading.Thread, list[CascadeResult]]:
    results: list[CascadeResult] = []
    thread = threading.Thread(target=lambda: results.append(exec_cascade(ws, dag, jobs, slots=2)))
    thread.start()
    return thread, results


def test_science_started_first_waits_for_its_calibration_then_completes(sleepy: Workspace) -> None:
    calib, science = two_cascades(sleepy)
    thread, results = in_thread(sleepy, SCIENCE, science)
    wait_until(lambda: waits(sleepy), what="S0 to wait for C1 while S2 ran")
    assert thread.is_alive() and ran(sleepy) == ["S2.ab"]
    assert rows(sleepy, SCIENCE)["S1.ab"]["state"] == "waiting"
    assert exec_cascade(sleepy, CALIB, calib, slots=2).ok
    thread.join(timeout=60)
    assert not thread.is_alive()
    (result,) = results
    assert result.ok and result.counts["succeeded"] == 3 and sum(result.counts.values()) == 3
    done = rows(sleepy, SCIENCE)
    assert {n: (r["state"], r["attempts"], r["reason"]) for n, r in done.items()} == \
        {n: ("succeeded", 1, None) for n in ("S0.ab", "S1.ab", "S2.ab")}
    assert set(rows(sleepy, CALIB)) == {"C0.ab", "C1.ab"}  # the SCIENCE cascade wrote no row of C1


def test_science_runs_at_once_when_its_calibrations_succeeded_already(sleepy: Workspace) -> None:
    calib, science = two_cascades(sleepy)
    assert exec_cascade(sleepy, CALIB, calib).ok
    result = exec_cascade(sleepy, SCIENCE, science, slots=2)
    assert result.ok and result.counts["succeeded"] == 3


def test_a_failed_calibration_blocks_the_science_abs_behind_it_with_the_reason(
        sleepy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    calib, science = two_cascades(sleepy, failing=True)
    thread, results = in_thread(sleepy, SCIENCE, science)
    wait_until(lambda: waits(sleepy), what="S0 to wait for C1 while S2 ran")
    assert not exec_cascade(sleepy, CALIB, calib).ok
    thread.join(timeout=60)
    assert not thread.is_alive() and not results[0].ok
    why = ("its calibration C1.ab failed in cascade CALIB_2013-02-12: once it succeeded, queue again with "
           "'dfos create-job -m SCIENCE -d 2013-02-12'")
    found = rows(sleepy, SCIENCE)
    assert {n: (r["state"], r["attempts"], r["reason"]) for n, r in found.items()} == {
        "S0.ab": ("blocked", 0, why), "S1.ab": ("blocked", 0, why), "S2.ab": ("succeeded", 1, None)}
    assert ran(sleepy) == ["C0.ab", "C1.ab", "S2.ab"]  # S0 and S1 never ran
    assert main(["--root", str(sleepy.root), "cascade-stat", "--dag-id", SCIENCE]) == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if "S0.ab" in line]
    assert shown[0].startswith("blocked") and shown[0].endswith(why)


def test_a_rejected_calibration_blocks_the_science_abs_with_re_association_advice(sleepy: Workspace) -> None:
    calib, science = two_cascades(sleepy)
    assert exec_cascade(sleepy, CALIB, calib).ok
    with engine_for_url(sleepy.db_url).begin() as db:
        db.execute(insert(certifications), [{"ab": "C1.ab", "decision": "certified", "by": "qc", "at": "t1"},
                                            {"ab": "C1.ab", "decision": "rejected", "by": "qc", "at": "t2"}])
    result = exec_cascade(sleepy, SCIENCE, science, slots=2)
    assert not result.ok and result.counts["blocked"] == 2
    assert rows(sleepy, SCIENCE)["S0.ab"]["reason"] == \
        "its calibration C1.ab was rejected: re-associate with 'dfos create-ab -m SCIENCE -d 2013-02-12'"


def test_a_stop_ends_the_waiting(sleepy: Workspace) -> None:
    _, science = two_cascades(sleepy)
    thread, results = in_thread(sleepy, SCIENCE, science)
    wait_until(lambda: waits(sleepy), what="S0 to wait for C1 while S2 ran")
    request_stop(sleepy, SCIENCE)
    thread.join(timeout=60)
    assert not thread.is_alive()
    (result,) = results
    assert not result.ok and (result.counts["waiting"], result.counts["succeeded"]) == (2, 1)
    assert rows(sleepy, SCIENCE)["S0.ab"]["reason"] == WAITING


def test_a_killed_science_cascade_resumes_and_waits_again(sleepy: Workspace) -> None:
    calib, science = two_cascades(sleepy)
    argv = [sys.executable, "-m", "dfos", "--root", str(sleepy.root), "exec-cascade", "--dag-id", SCIENCE,
            "--jobs", str(science)]
    first = subprocess.Popen(argv, env={**os.environ, "DFOS_ESOREX": sleepy.settings.ESOREX},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: waits(sleepy) or first.poll() is not None, what="S0 to wait for C1 while S2 ran")
    assert first.poll() is None  # it waits ...
    first.send_signal(signal.SIGKILL)
    first.wait()
    thread, results = in_thread(sleepy, SCIENCE, science)  # ... and so does the next executor
    wait_until(lambda: rows(sleepy, SCIENCE)["S0.ab"]["reason"] == WAITING and thread.is_alive(),
               what="the resumed cascade to wait")
    assert exec_cascade(sleepy, CALIB, calib).ok
    thread.join(timeout=60)
    assert not thread.is_alive() and results[0].ok
    assert {n: r["attempts"] for n, r in rows(sleepy, SCIENCE).items()} == {"S0.ab": 1, "S1.ab": 1, "S2.ab": 1}
    assert ran(sleepy).count("S2.ab") == 1  # S2 succeeded before the kill: not run again


def test_a_calibration_gone_from_the_ab_directory_blocks_with_re_association_advice(sleepy: Workspace) -> None:
    _, science = two_cascades(sleepy)
    (sleepy.ab_dir / "C1.ab").unlink()  # superseded by a new association of the night
    result = exec_cascade(sleepy, SCIENCE, science, slots=2)
    assert not result.ok and (result.counts["blocked"], result.counts["succeeded"]) == (2, 1)
    assert rows(sleepy, SCIENCE)["S0.ab"]["reason"] == \
        "its parent C1.ab is no longer an AB: re-associate with 'dfos create-ab -m SCIENCE -d 2013-02-12'"


def test_a_serial_file_takes_the_parents_in_other_cascades_from_the_waitfor_too(sleepy: Workspace) -> None:
    calib, _ = two_cascades(sleepy, failing=True)
    serial = sleepy.job_dir / "execAB_SCIENCE_serial"  # CPL: one AB after the other, parents from WAITFOR
    serial.write_text("".join(f"processAB -a {name}\n" for name in ("S0.ab", "S1.ab", "S2.ab")))
    thread, results = in_thread(sleepy, "SCIENCE_serial", serial)
    wait_until(lambda: rows(sleepy, "SCIENCE_serial").get("S0.ab", {}).get("reason") == WAITING,
               what="S0 to wait for C1")
    assert not exec_cascade(sleepy, CALIB, calib).ok
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert (results[0].kind, results[0].counts["blocked"], results[0].counts["succeeded"]) == ("CPL", 2, 1)
    assert str(rows(sleepy, "SCIENCE_serial")["S1.ab"]["reason"]).startswith("its calibration C1.ab failed")
