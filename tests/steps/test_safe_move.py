"""Moving without losing a file: plans read strictly, every copy verified before its source goes, a
move that resumes where it stopped and stops where a file went missing."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from dfos.errors import FormatError, StateError, WorkspaceError
from dfos.steps.safe_move import Planned, carry_out, parse_plan, read_plan, read_text, write_plan


def _file(path: Path, data: bytes) -> Planned:
    """A source file and the entry that moves it to ``<dir>/target/<name>``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return Planned(str(path), str(path.parent / "target" / path.name), hashlib.sha256(data).hexdigest(), len(data))


def test_a_plan_reads_back_as_written(tmp_path: Path) -> None:
    plan = [_file(tmp_path / "a.fits", b"A"), _file(tmp_path / "b.paf", b"BB")]
    write_plan(tmp_path / "plan.json", plan)
    assert read_plan(tmp_path / "plan.json") == plan
    assert read_plan(tmp_path / "none.json") is None  # no plan: a move not started


ENTRY = {"source": "/p/a.fits", "target": "/c/a.fits", "sha256": "0" * 64, "size": 1}


@pytest.mark.parametrize(("document", "message"), [
    ("{}", "a JSON list of entries"),
    ("[1", "not a move plan (JSON"),
    (json.dumps([{**ENTRY, "extra": 1}]), "entry 1: expected an object with exactly the keys"),
    (json.dumps([{**ENTRY, "source": "relative/a.fits"}]), "entry 1: source must be an absolute path"),
    (json.dumps([{**ENTRY, "target": "/c/\u0000"}]), "target must be an absolute path"),
    (json.dumps([{**ENTRY, "sha256": "A" * 64}]), "sha256 must be 64 lower-case hex digits"),
    (json.dumps([{**ENTRY, "size": True}]), "size must be a whole number"),
    (json.dumps([{**ENTRY, "size": -1}]), "size must be a whole number"),
    (json.dumps([ENTRY, {**ENTRY, "source": "/p/b.fits"}]), "entries 1 and 2 have the same target"),
])
def test_a_plan_is_exactly_a_list_of_entries(document: str, message: str) -> None:
    with pytest.raises(FormatError, match=re.escape(message)):
        parse_plan(document, "plan.json")


def test_a_file_the_closing_steps_rely_on_is_named_when_it_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="the AB list\\) is missing"):
        read_text(tmp_path / "nope", "the AB list")
    with pytest.raises(StateError, match="is a directory, not a file"):
        read_text(tmp_path, "the AB list")
    (tmp_path / "latin1").write_bytes(b"caf\xe9")
    with pytest.raises(FormatError):
        read_text(tmp_path / "latin1", "the AB list")
    (tmp_path / "nul").write_bytes(b"ab\x00c")
    with pytest.raises(FormatError, match="NUL byte \\(offset 2\\)"):
        read_text(tmp_path / "nul", "the AB list")
    (tmp_path / "ok").write_text("a b\n")
    assert read_text(tmp_path / "ok", "the AB list") == "a b\n"


def test_a_move_copies_verifies_and_then_deletes(tmp_path: Path) -> None:
    plan = [_file(tmp_path / "a.fits", b"A" * 100), _file(tmp_path / "b.paf", b"B")]
    assert carry_out(plan) == 2
    for entry, data in zip(plan, (b"A" * 100, b"B"), strict=True):
        assert not Path(entry.source).exists() and Path(entry.target).read_bytes() == data
    assert carry_out(plan) == 0  # done already: nothing moves, nothing fails
    assert Path(plan[0].target).read_bytes() == b"A" * 100


def test_an_interrupted_move_resumes(tmp_path: Path) -> None:
    plan = [_file(tmp_path / "a.fits", b"A"), _file(tmp_path / "b.fits", b"B")]
    target = Path(plan[0].target)
    target.parent.mkdir()
    target.write_bytes(b"A")  # copied and verified, but its source not deleted yet
    assert carry_out(plan) == 2
    assert not Path(plan[0].source).exists() and not Path(plan[1].source).exists()
    assert Path(plan[1].target).read_bytes() == b"B"


def test_a_half_written_target_is_copied_again(tmp_path: Path) -> None:
    entry = _file(tmp_path / "a.fits", b"complete")
    Path(entry.target).parent.mkdir()
    Path(entry.target).write_bytes(b"compl")
    assert carry_out([entry]) == 1
    assert Path(entry.target).read_bytes() == b"complete" and not Path(entry.source).exists()


def test_a_source_with_other_bytes_than_planned_is_kept(tmp_path: Path) -> None:
    entry = _file(tmp_path / "a.fits", b"planned")
    Path(entry.source).write_bytes(b"changed")  # same size, other bytes
    with pytest.raises(WorkspaceError, match="does not match its checksum"):
        carry_out([entry])
    assert Path(entry.source).read_bytes() == b"changed" and not Path(entry.target).exists()
    assert [p.name for p in Path(entry.target).parent.iterdir()] == []  # no temporary file left


def test_nothing_is_deleted_without_a_verified_copy(tmp_path: Path) -> None:
    gone = _file(tmp_path / "a.fits", b"A")
    Path(gone.source).unlink()
    with pytest.raises(WorkspaceError, match=r"neither .* nor .* exists"):
        carry_out([gone])
    other = _file(tmp_path / "b.fits", b"B")
    Path(other.target).parent.mkdir(exist_ok=True)
    Path(other.target).write_bytes(b"X")
    Path(other.source).unlink()
    with pytest.raises(WorkspaceError, match="holds other bytes than planned"):
        carry_out([other])
    assert Path(other.target).read_bytes() == b"X"  # left as found, for the operator to judge


def test_across_file_systems_the_file_is_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_link(*_: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)  # what safe_move calls
    entry = _file(tmp_path / "a.fits", b"A" * 10)
    assert carry_out([entry]) == 1
    assert Path(entry.target).read_bytes() == b"A" * 10 and not Path(entry.source).exists()
    assert os.stat(entry.target).st_nlink == 1
