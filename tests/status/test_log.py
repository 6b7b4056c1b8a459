"""DFO_STATUS file: atomic appends under a lock, tolerant reads, atomic trims; real processes."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from dfos.status.flags import parse_text
from dfos.status.log import StatusLog

WHEN = datetime(2013, 2, 13, 10, 0, 0)

APPENDER = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from dfos.status.log import StatusLog
    log = StatusLog(__import__("pathlib").Path(sys.argv[1]))
    writer, count = sys.argv[2], int(sys.argv[3])
    for n in range(count):
        log.append("cal_AB", f"{writer}_{n:05d}", datetime(2013, 2, 13, 10, 0, n % 60))
    """
)

TRIMMER = textwrap.dedent(
    """
    import sys, time
    from dfos.status.log import StatusLog
    log = StatusLog(__import__("pathlib").Path(sys.argv[1]))
    for _ in range(int(sys.argv[2])):
        log.trim(int(sys.argv[3]))
        time.sleep(0.005)
    """
)


def _spawn(script: str, *args: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)])


def _wait_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        assert proc.wait(timeout=300) == 0


def test_append_and_read_back(tmp_path: Path) -> None:
    log = StatusLog(tmp_path / "monitor" / "DFO_STATUS")
    log.append("fits_Requested", "2013-02-12", WHEN)
    log.append("raw_Complete", "2013-02-12", WHEN)
    assert (tmp_path / "monitor" / "DFO_STATUS").read_text() == (
        "fits_Requested 2013-02-12 2013-02-13T10:00:00\nraw_Complete 2013-02-12 2013-02-13T10:00:00\n"
    )
    assert [line.flag for line in log.read()] == ["fits_Requested", "raw_Complete"]


def test_reader_skips_malformed_lines_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "DFO_STATUS"
    path.write_text("fits_Requested 2013-02-12 2013-02-13T10:00:00\nthis is not a status line\ncal_AB 2013-02-12\n")
    with caplog.at_level(logging.WARNING, logger="dfos"):
        lines = StatusLog(path).read()
    assert [line.flag for line in lines] == ["fits_Requested"]
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"{path}:2:" in m for m in messages)
    assert any(f"{path}:3:" in m for m in messages)


def test_append_if_absent_writes_once(tmp_path: Path) -> None:
    log = StatusLog(tmp_path / "DFO_STATUS")
    assert log.append_if_absent("fits_Requested", "2013-02-12", WHEN) is True
    assert log.append_if_absent("fits_Requested", "2013-02-12", WHEN) is False
    assert log.append_if_absent("fits_Requested", "2013-02-13", WHEN) is True
    assert len(log.read()) == 2


def test_trim_keeps_the_newest_lines(tmp_path: Path) -> None:
    log = StatusLog(tmp_path / "DFO_STATUS")
    for n in range(12):
        log.append("cal_AB", f"K{n:02d}", WHEN)
    assert log.trim(5) == 7
    assert [line.key for line in log.read()] == [f"K{n:02d}" for n in range(7, 12)]
    assert log.trim(5) == 0
    assert not list(tmp_path.glob(".DFO_STATUS*"))  # no temporary file left behind


def test_eight_processes_append_4000_lines_without_tearing(tmp_path: Path) -> None:
    path = tmp_path / "DFO_STATUS"
    _wait_all([_spawn(APPENDER, path, f"w{i}", 500) for i in range(8)])
    text = path.read_text()
    good, bad = parse_text(text)
    assert bad == []
    assert len(text.splitlines()) == 4000
    assert len({line.key for line in good}) == 4000
    for i in range(8):  # each writer's lines appear in its own order
        mine = [line.key for line in good if line.key.startswith(f"w{i}_")]
        assert mine == sorted(mine)
        assert len(mine) == 500


def test_trim_racing_with_appends_loses_no_appended_line(tmp_path: Path) -> None:
    path = tmp_path / "DFO_STATUS"
    log = StatusLog(path)
    from dfos.status.flags import StatusLine

    log.append_lines(StatusLine("cal_QC", f"old_{n:05d}", WHEN) for n in range(6000))
    procs = [_spawn(APPENDER, path, f"w{i}", 500) for i in range(4)]
    procs.append(_spawn(TRIMMER, path, 40, 5000))
    _wait_all(procs)
    good, bad = parse_text(path.read_text())
    assert bad == []
    keys = {line.key for line in good}
    appended = {f"w{i}_{n:05d}" for i in range(4) for n in range(500)}
    assert appended <= keys  # every appended line survived every trim
    assert len(good) <= 6000 + 2000
    log.trim(5000)
    good, _ = parse_text(path.read_text())
    assert len(good) == 5000
    assert appended <= {line.key for line in good}


def test_an_unfinished_last_line_never_swallows_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "DFO_STATUS"
    path.write_text("fits_Requested 2013-02-12 2013-02-13T10:00:00\ncal_AB 2013-02-1")  # a killed writer
    log = StatusLog(path)
    log.append("cal_QC", "2013-02-12", WHEN)
    good, bad = log.read_all()
    assert [line.flag for line in good] == ["fits_Requested", "cal_QC"]
    assert [b.text for b in bad] == ["cal_AB 2013-02-1"]
    assert path.read_text().endswith("\ncal_AB 2013-02-1\ncal_QC 2013-02-12 2013-02-13T10:00:00\n")


def test_trim_copies_kept_lines_byte_for_byte_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "DFO_STATUS"
    stale = tmp_path / ".DFO_STATUS.abc123.trim"
    stale.write_text("left by a trim that was killed")
    odd = b"cal_AB 2013-02-12 2013-02-13T10:00:00 \xff\xfe\n"  # undecodable bytes stay as they are
    path.write_bytes(b"old 2013-02-01 2013-02-02T10:00:00\n" * 3 + odd + b"cal_QC 2013-02-12 2013-02-13T10:00:00\n")
    assert StatusLog(path).trim(2) == 3
    assert path.read_bytes() == odd + b"cal_QC 2013-02-12 2013-02-13T10:00:00\n"
    assert not stale.exists()


def test_a_failed_write_leaves_the_file_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    path = tmp_path / "DFO_STATUS"
    log = StatusLog(path)
    log.append("fits_Requested", "2013-02-12", WHEN)
    before = path.read_bytes()
    real_write = os.write
    calls = {"n": 0}

    def flaky(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data)[:10])  # a short write ...
        raise OSError(28, "No space left on device")  # ... then the disk is full

    monkeypatch.setattr(os, "write", flaky)
    with pytest.raises(OSError):
        log.append("cal_AB", "2013-02-12", WHEN)
    monkeypatch.setattr(os, "write", real_write)
    assert path.read_bytes() == before


def test_an_impossible_date_gets_the_same_warning_as_other_bad_lines(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "DFO_STATUS"
    path.write_text("fits_Requested 2013-02-30 2013-02-13T10:00:00\nfits_Requested 2013-02-12 2013-02-13T10:00:00\n"
                    "cal_AB 2013-13-01 2013-02-13T10:00:00\ncal_AB PSEUDO_2013 2013-02-13T10:00:00\n")
    with caplog.at_level(logging.WARNING, logger="dfos"):
        lines = StatusLog(path).read()
    assert [line.key for line in lines] == ["2013-02-12", "PSEUDO_2013"]  # a key not written like a date is kept
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"{path}:1:" in m and "2013-02-30" in m and "not a calendar date" in m for m in messages)
    assert any(f"{path}:3:" in m for m in messages)


def test_a_huge_line_is_never_echoed_in_full(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dfos.cli.main import main
    from dfos.workspace import init_workspace

    ws, _ = init_workspace(tmp_path / "ws", env={}, instrument="UVES")
    huge = "x" * (5 << 20)
    (ws.mon_dir / "DFO_STATUS").write_text(f"{huge}\n{huge}! 2013-02-12 2013-02-13T10:00:00\n")
    assert main(["--root", str(ws.root), "status", "--json"]) == 0
    err = capsys.readouterr().err
    warnings = err.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("Warning: ") and len(w) <= 1000 for w in warnings), \
        [len(w) for w in warnings]
