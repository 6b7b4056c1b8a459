"""The file primitives: a lock that waits for ever or for a bounded time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dfos.fsutil import exclusive_lock

HOLD = "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); " \
       "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(float(sys.argv[2])); " \
       "open(sys.argv[1] + '.done', 'w').close()"


def _holder(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_bounded_wait_gives_up_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    proc = _holder(path, 30)
    try:
        with pytest.raises(BlockingIOError), exclusive_lock(path, wait=0.1):
            pass
    finally:
        proc.kill()
        proc.communicate()
    with exclusive_lock(path, wait=0.1):  # the holder died: the kernel released its lock
        pass


def test_a_bounded_wait_gets_the_lock_released_within_it(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    proc = _holder(path, 0.3)
    entered = False
    with exclusive_lock(path, wait=10):
        entered = True
        assert Path(f"{path}.done").exists()  # only after the holder ended
    proc.communicate()
    assert entered


def test_a_killed_writers_temporary_is_removed_and_a_live_writers_kept(tmp_path: Path) -> None:
    import signal

    from dfos.fsutil import atomic_path, remove_dead_partials

    target = tmp_path / "JOBS_INGEST"
    script = ("import os, signal, sys; from pathlib import Path; from dfos.fsutil import atomic_path\n"
              "with atomic_path(Path(sys.argv[1])) as tmp:\n"
              "    tmp.write_text('half')\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", script, str(target)], check=False)
    assert killed.returncode == -signal.SIGKILL
    (left,) = tmp_path.glob(".JOBS_INGEST.*.part")  # what the kill left beside the target
    elsewhere = tmp_path / ".JOBS_INGEST.otherhost-1.abcdefgh.part"  # a writer of another host: not ours to judge
    elsewhere.write_text("")
    with atomic_path(target) as mine:
        mine.write_text("whole")
        assert remove_dead_partials(tmp_path) == [left]  # this process's own temporary is kept
        assert mine.is_file()
    assert target.read_text() == "whole" and not left.exists() and elsewhere.exists()
