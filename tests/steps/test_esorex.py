"""Starting a recipe and waiting for it under a deadline (dfos.steps.esorex), with small shell programs."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from dfos.steps.esorex import OUTPUT, RecipeExit, Watchdog, start, wait, which


def test_a_program_runs_in_its_directory_with_its_environment(tmp_path: Path) -> None:
    pid = start(["/bin/sh", "-c", 'echo "$MARK $(pwd)"; exit 3'], tmp_path, {"MARK": "run-1", "PATH": "/bin"})
    end = wait(pid, 60)
    assert end.code == 3 and not end.timed_out and end.max_rss_kb > 0
    assert (tmp_path / OUTPUT).read_text() == f"run-1 {tmp_path}\n"


def test_the_deadline_kills_the_whole_session(tmp_path: Path) -> None:
    pid = start(["/bin/sh", "-c", "sleep 60 & echo $! > child; wait"], tmp_path, {"PATH": "/bin:/usr/bin"})
    end = wait(pid, 0.5)
    assert end == RecipeExit(-9, end.max_rss_kb, timed_out=True)
    child = int((tmp_path / "child").read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:  # killed with its session (reaped by init)
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_a_program_killed_before_its_deadline_crashed_it_did_not_time_out(tmp_path: Path) -> None:
    end = wait(start(["/bin/sh", "-c", "kill -9 $$"], tmp_path, {}), 60)
    assert (end.code, end.timed_out) == (-9, False)


def test_one_watchdog_runs_due_actions_and_skips_disarmed_ones() -> None:
    dog = Watchdog()
    fired: list[str] = []
    done = threading.Event()
    dog.disarm(dog.arm(0.05, lambda: fired.append("disarmed")))

    def due() -> None:
        fired.append("due")
        done.set()

    dog.arm(0.1, due)
    assert done.wait(10)
    assert fired == ["due"] and dog.thread is not None


def test_which_looks_along_the_path_it_is_given(tmp_path: Path) -> None:
    program = tmp_path / "fake-esorex"
    assert which("fake-esorex", str(tmp_path)) is None
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert which("fake-esorex", str(tmp_path)) == str(program)  # installed meanwhile: found
    program.unlink()
    assert which("fake-esorex", str(tmp_path)) is None  # removed meanwhile: not remembered
    assert which("sh", os.defpath) is not None
