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
