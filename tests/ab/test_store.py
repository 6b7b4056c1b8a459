"""PROCESS_STATUS written into an AB file (dfos.ab.store.write_process_status): in place when padded, with
the format's own line otherwise, every other byte unchanged."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dfos.ab.format import qualifier_line, render, status_slot, status_value, with_status
from dfos.ab.model import ProcessStatus
from dfos.ab.store import read_ab_file, write_process_status
from malformed import sample_ab


@pytest.mark.parametrize("status", list(ProcessStatus))
def test_a_padded_status_is_overwritten_in_place(tmp_path: Path, status: ProcessStatus) -> None:
    ab = sample_ab()
    path = tmp_path / ab.name
    path.write_text(render(ab))
    inode = path.stat().st_ino
    write_process_status(path, ab, status)
    assert path.stat().st_ino == inode  # the same file: no temporary file renamed over it
    assert path.read_text() == render(replace(ab, process_status=status))


def test_a_hand_written_status_without_padding_is_rewritten_as_the_format_writes_it(tmp_path: Path) -> None:
    ab = sample_ab()
    path = tmp_path / ab.name
    text = render(ab).replace(qualifier_line("PROCESS_STATUS", status_value(ab.process_status)), "PROCESS_STATUS OK")
    assert "PROCESS_STATUS OK\n" in text
    path.write_text(text)
    write_process_status(path, ab, ProcessStatus.SUCCESSFUL)
    assert path.read_text() == render(replace(ab, process_status=ProcessStatus.SUCCESSFUL))
    assert read_ab_file(path).process_status is ProcessStatus.SUCCESSFUL


def test_a_file_without_the_line_or_without_the_file_is_written_from_the_ab(tmp_path: Path) -> None:
    ab = sample_ab()
    path = tmp_path / ab.name
    write_process_status(path, ab, ProcessStatus.FAILED)
    assert path.read_text() == render(replace(ab, process_status=ProcessStatus.FAILED))
    path.write_text("# no status here\n")
    write_process_status(path, ab, ProcessStatus.SUCCESSFUL)
    assert read_ab_file(path) == replace(ab, process_status=ProcessStatus.SUCCESSFUL)


def test_the_status_slot_and_line_come_from_the_format() -> None:
    text = render(sample_ab())
    offset, width = status_slot(text.encode()) or (0, 0)
    assert text[offset:offset + width] == status_value(ProcessStatus.CREATED)
    assert status_slot(b"INSTRUMENT UVES\n") is None
    assert with_status("X\nPROCESS_STATUS   FAILED\nY\n", ProcessStatus.CREATED) == (
        f"X\n{qualifier_line('PROCESS_STATUS', status_value(ProcessStatus.CREATED))}\nY\n")
    assert with_status("X\n", ProcessStatus.CREATED) is None
