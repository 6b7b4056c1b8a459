"""AB lists (dfos.ab.lists): one line per AB, read strictly, rendered back identically, tagged DONE under a lock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfos.ab.lists import ABList, ab_list_lock, parse_ab_list, read_ab_list, render_ab_list, tag_done, write_ab_list
from dfos.ab.model import Completeness
from dfos.errors import FormatError
from dfos.fsutil import exclusive_lock
from dfos.keys import Mode, ProcessingKey
from dfos.workspace import Workspace
from malformed import sample_ab

_names = st.text("ABCXYZabc0123_.:+-", min_size=1, max_size=20).filter(lambda n: n[0] not in ".-")
_entries = st.builds(ABList, _names.map(lambda n: n + ".ab"), _names, _names, st.sampled_from(Completeness),
                     st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(_entries, max_size=8))
def test_render_and_parse_are_inverse(entries: list[ABList]) -> None:
    text = render_ab_list(entries)
    assert [entry for _, entry in parse_ab_list(text, "L")] == entries
    assert render_ab_list(entry for _, entry in parse_ab_list(text, "L")) == text


def test_a_line_says_what_an_ab_is() -> None:
    flat = sample_ab()
    assert ABList.of(flat).render() == f"{flat.name}  FLAT_BLUE  uves_cal_mflat  COMPLETE"
    assert ABList.of(flat, done=True).render().endswith("  COMPLETE  DONE")
    assert parse_ab_list("# comment\n\nA.ab  BIAS  r  INCOMPLETE\n", "L") == [
        (3, ABList("A.ab", "BIAS", "r", Completeness.INCOMPLETE))]


def test_a_mangled_line_is_refused_naming_the_source_and_line() -> None:
    with pytest.raises(FormatError, match=r"^L:2: not '<AB>.ab"):
        parse_ab_list("A.ab  BIAS  r  COMPLETE\nB.ab  BIAS  r  DONE\n", "L")


def test_workspace_ab_list_names_the_batch(workspace: Workspace) -> None:
    assert workspace.ab_list(Mode.CALIB, "2013-02-12") == workspace.mon_dir / "AB_list_CALIB_2013-02-12"
    assert workspace.ab_list("science", ProcessingKey.parse("094.D-0192(A)")).name == "AB_list_SCIENCE_094.D-0192A"
    assert ab_list_lock(workspace.ab_list(Mode.CALIB, "2013-02-12")).name == ".AB_list_CALIB_2013-02-12.lock"


def test_tag_done_tags_only_the_named_abs_and_keeps_earlier_tags(tmp_path: Path) -> None:
    path = tmp_path / "AB_list_CALIB_2013-02-12"
    entries = [ABList("A.ab", "BIAS", "r", Completeness.COMPLETE, True), ABList("B.ab", "DARK", "r",
               Completeness.COMPLETE), ABList("C.ab", "FLAT", "r", Completeness.INCOMPLETE)]
    assert write_ab_list(path, entries) and not write_ab_list(path, entries)
    tag_done(path, {"B.ab", "X.ab"})
    assert [(e.name, e.done) for e in read_ab_list(path)] == [("A.ab", True), ("B.ab", True), ("C.ab", False)]
    tag_done(tmp_path / "AB_list_CALIB_2013-02-13", {"A.ab"})  # no list: nothing to tag, nothing written
    assert not (tmp_path / "AB_list_CALIB_2013-02-13").exists()


def test_tag_done_waits_for_the_lists_lock(tmp_path: Path) -> None:
    path = tmp_path / "AB_list_CALIB_2013-02-12"
    write_ab_list(path, [ABList("A.ab", "BIAS", "r", Completeness.COMPLETE)])
    tagged = threading.Event()

    def tag() -> None:
        tag_done(path, {"A.ab"})
        tagged.set()

    with exclusive_lock(ab_list_lock(path)):
        worker = threading.Thread(target=tag)
        worker.start()
        assert not tagged.wait(0.2)  # a createAB run holds the lock: the tag waits
        assert not read_ab_list(path)[0].done
    worker.join(10)
    assert tagged.is_set() and read_ab_list(path)[0].done
