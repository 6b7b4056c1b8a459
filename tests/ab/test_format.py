"""The AB format: round trip, strict parsing with file:line, safe names and paths, SOF_CONTENT as the truth."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfos.ab.format import check, parse, render
from dfos.ab.model import AB
from dfos.ab.store import read_ab, read_ab_file
from dfos.errors import FormatError, NotFound, UnsafeName
from malformed import ab_strategy, sample_ab, sample_abs

SOURCE = "ab/X.ab"


@settings(max_examples=200, deadline=None)
@given(ab_strategy())
def test_every_ab_dfos_writes_parses_back_identically(ab: AB) -> None:
    text = render(ab)
    assert parse(text, SOURCE) == ab
    assert render(parse(text, SOURCE)) == text


@pytest.mark.parametrize("ab", sample_abs(), ids=["flat", "orderpos", "incomplete", "edited-sof"])
def test_sample_abs_round_trip(ab: AB) -> None:
    assert parse(render(ab)) == ab


def edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


FLAT = render(sample_ab())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("AB_NAME         UVES", "AB_NAME         ../../etc/UVES", "AB_NAME '../../etc/UVES"),
        ("PROD_PATH       $DFS_PRODUCT", "PROD_PATH       /tmp/x", "PROD_PATH '/tmp/x/FLAT_BLUE/2013-02-12' must"),
        ("PROD_PATH       $DFS_PRODUCT/", "PROD_PATH       $DFS_PRODUCT/../../", "PROD_PATH component '..'"),
        ("PROD_PATH       $DFS_PRODUCT", "PROD_PATH       $DFO_MON_DIR", "must start with one of"),
        ("PROD_PATH       $DFS_PRODUCT", "PROD_PATH       $DFO_BIN_DIR", "must start with one of"),
        ("PRODUCTS        r.", "PRODUCTS        ../../r.", "PRODUCTS file '../../r."),
        ("RAW_TYPE        FLAT_BLUE", "RAW_TYPE        ../FLAT", "RAW_TYPE '../FLAT'"),
        ("LOG_NAME        r.", "LOG_NAME        /tmp/r.", "LOG_NAME '/tmp/r."),
        ("PROD_ROOT_NAME  r.", "PROD_ROOT_NAME  ../r.", "PROD_ROOT_NAME '../r."),
        ("WAITFOR         UVES", "WAITFOR         ../UVES", "WAITFOR '../UVES"),
        ("RAWFILE         $DFO_RAW_DIR/", "RAWFILE         $DFO_RAW_DIR/../../", "RAWFILE component '..'"),
        ("MASTER_FLAT_BLUE", "MASTER/FLAT", "PRODUCTS PRO.CATG 'MASTER/FLAT'"),
        ("by=UVES", "by=../UVES", "by= (producing AB) '../UVES"),
        ("level=0", "level=x", "unexpected field 'level=x'"),
        ("level=0", "colour=red", "unexpected field 'colour=red'"),
        ("MJD-OBS         56335", "MJD-OBS         x56335", "MJD-OBS 'x56335.91111690' is not a number"),
        ("MJD-OBS         56335.91111690", "MJD-OBS         nan", "MJD-OBS nan is not a usable MJD"),
        ("MJD-OBS         56335.91111690", "MJD-OBS         1e308", "is not a usable MJD"),
        ("COMPLETENESS    COMPLETE", "COMPLETENESS    DONE", "COMPLETENESS 'DONE' is not one of"),
        ("DATE            2013-02-12", "DATE            ../2013", "DATE '../2013' is not a date"),
        ("RAW_MATCH_KEY   TPL.START=", "RAW_MATCH_KEY   TPL.START", "expected 'RAW_MATCH_KEY <KEY>=<value>'"),
        ("RAWFILE         $DFO_RAW_DIR/2013-02-12/UVES.2013-02-12T21:52:00.500.fits  FLAT_BLUE",
         "RAWFILE         $DFO_RAW_DIR/2013-02-12/UVES.2013-02-12T21:52:00.500.fits",
         "expected 'RAWFILE <path> <TAG>'"),
        ("ACTION ", "ACTON  ", "unknown qualifier 'ACTON'"),
    ],
)
def test_malformed_abs_are_refused_naming_file_and_field(old: str, new: str, message: str) -> None:
    with pytest.raises(FormatError) as err:
        parse(edit(FLAT, old, new), SOURCE)
    assert re.match(rf"{SOURCE}:\d+: ", str(err.value))
    assert message in str(err.value)


def test_unsafe_names_and_paths_are_unsafe_name_errors() -> None:
    with pytest.raises(UnsafeName):
        parse(edit(FLAT, "PROD_PATH       $DFS_PRODUCT/", "PROD_PATH       $DFS_PRODUCT/../"), SOURCE)
    with pytest.raises(UnsafeName):
        check(replace(sample_ab(), name="../x.ab"))


def test_missing_and_duplicated_keys_name_the_line() -> None:
    with pytest.raises(FormatError, match=r"^ab/X.ab: the qualifier PROD_PATH is missing"):
        parse("".join(line + "\n" for line in FLAT.splitlines() if not line.startswith("PROD_PATH")), SOURCE)
    doubled = edit(FLAT, "PROD_PATH", "PROD_PATH       $DFS_PRODUCT/X\nPROD_PATH")
    with pytest.raises(FormatError, match=r"^ab/X.ab:\d+: PROD_PATH given twice \(first at line \d+\)"):
        parse(doubled, SOURCE)


def test_a_file_cut_short_is_refused_even_when_its_last_line_looks_complete() -> None:
    assert parse(FLAT, SOURCE).name  # dfos writes every line with its newline
    cut = FLAT[: FLAT.rindex("  ", 0, FLAT.rindex("SOF_CONTENT")) + 8]  # inside a tag: the line still parses
    with pytest.raises(FormatError, match=r"^ab/X.ab:\d+: the file ends in the middle of a line: it was cut short"):
        parse(cut, SOURCE)


def test_over_long_lines_and_line_breaks_in_values() -> None:
    with pytest.raises(FormatError, match=r"^ab/X.ab:3: line longer than 65536"):
        parse(edit(FLAT, "INSTRUMENT      UVES", "INSTRUMENT      " + "U" * 70000), SOURCE)
    with pytest.raises(FormatError, match="must be one line"):
        render(replace(sample_ab(), obs_id="1\nPROD_PATH /etc"))
    with pytest.raises(FormatError, match="must be one line"):  # str.splitlines() breaks on \x85: parse must not
        parse(edit(FLAT, "OBS_ID          200150005", "OBS_ID          2001\x8550005 "), SOURCE)


def test_dfos_never_writes_an_ab_it_could_not_read() -> None:
    with pytest.raises(UnsafeName):
        render(replace(sample_ab(), prod_path="$DFS_PRODUCT/../../../tmp"))
    with pytest.raises(FormatError):
        render(replace(sample_ab(), rawfiles=(replace(sample_ab().rawfiles[0], tag="A TAG"),)))


def test_read_ab_names_the_file_for_bytes_directories_and_size(tmp_path: Path) -> None:
    (tmp_path / "bad.ab").write_bytes(FLAT.encode()[:200] + b"\n\xff\xfe\n")
    undecodable = rf"^{tmp_path}/bad.ab:\d+: byte 0x[0-9a-f]{{2}} at offset \d+ is not UTF-8 text"
    with pytest.raises(FormatError, match=undecodable):
        read_ab(tmp_path, "bad.ab")
    (tmp_path / "dir.ab").mkdir()
    with pytest.raises(FormatError, match="is a directory"):
        read_ab(tmp_path, "dir.ab")
    (tmp_path / "big.ab").write_bytes(b"#" * (5 * 1024 * 1024))
    with pytest.raises(FormatError, match="larger than"):
        read_ab_file(tmp_path / "big.ab")
    with pytest.raises(NotFound, match=r"no AB x\.ab in"):
        read_ab(tmp_path, "x.ab")
    for name in ("a\nb.ab", "x" * 5_000_000, "..", ""):
        with pytest.raises(NotFound) as err:
            read_ab(tmp_path, name)
        assert "\n" not in str(err.value) and len(str(err.value)) <= 1000


# -- problem 10: SOF_CONTENT is the truth ---------------------------------------------------------------


def test_edited_sof_content_is_the_sof() -> None:
    flat = sample_ab()
    lines = FLAT.splitlines(keepends=True)
    sof_lines = [line for line in lines if line.startswith("SOF_CONTENT")]
    assert len(sof_lines) == 5
    dropped = parse("".join(line for line in lines if line != sof_lines[-1]), SOURCE)  # the certified master gone
    assert dropped.sof == flat.sof[:-1] and dropped.sof_edited
    retagged = parse(FLAT.replace("MASTER_BIAS_BLUE\n", "MASTER_BIAS_RED\n", 1), SOURCE)
    assert retagged.sof[3] == (flat.sof[3][0], "MASTER_BIAS_RED")
    assert render(retagged).count("(edited:") == 1 and parse(render(retagged)) == retagged
    untouched = parse(FLAT, SOURCE)
    assert not untouched.sof_edited and untouched.sof == untouched.derived_sof
    no_lines = parse("".join(line for line in lines if not line.startswith("SOF_CONTENT")), SOURCE)
    assert no_lines.sof == flat.derived_sof  # an AB without SOF_CONTENT lines: RAWFILE then MCALIB


def test_sof_content_paths_and_tags_are_checked() -> None:
    for old, new, message in [
        ("SOF_CONTENT     $DFO_RAW_DIR/", "SOF_CONTENT     $DFO_RAW_DIR/../../", "SOF_CONTENT component '..'"),
        ("SOF_CONTENT     $DFO_RAW_DIR/", "SOF_CONTENT     relative/", "must start with one of"),
        ("SOF_CONTENT     $DFO_RAW_DIR/", "SOF_CONTENT     /data/../", "must not hold '.', '..'"),
        ("FLAT_BLUE\nSOF_CONTENT", "FLAT/BLUE\nSOF_CONTENT", "SOF_CONTENT tag 'FLAT/BLUE'"),
        ("FLAT_BLUE\nSOF_CONTENT", "\nSOF_CONTENT", "expected 'SOF_CONTENT <path> <TAG>'"),
    ]:
        with pytest.raises(FormatError) as err:
            parse(edit(FLAT, old, new), SOURCE)
        assert message in str(err.value)
    absolute = parse(edit(FLAT, "SOF_CONTENT     $DFO_RAW_DIR/2013-02-12", "SOF_CONTENT     /data/x"), SOURCE)
    assert absolute.sof[0][0].startswith("/data/x/")  # an operator may point at a file outside the workspace


# -- the round trip for any AB: parse(render(ab)) == ab, or render refuses it -----------------------------


_TEXT_FIELDS = ("name", "instrument", "date", "dpr_catg", "raw_type", "recipe", "drs_type", "batch_id", "event",
                "action", "obs_prog_id", "obs_id", "obs_mode", "prod_root", "prod_path", "log_name")
#: Values a field could hold that dfos never writes: empty, blanks, a line break, a comment sign, control bytes.
_odd_text = (st.sampled_from(["", " ", "-", "#", "a b", "x\n", "\x00", "\x1f", "é", "a\u2028b", " x"])
             | st.text(max_size=8))


@st.composite
def any_ab(draw: st.DrawFn) -> AB:
    """An AB as dfos writes it, with some of its values replaced by odd ones (empty ones above all)."""
    ab = draw(ab_strategy())
    changes: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(_TEXT_FIELDS), max_size=3, unique=True)):
        changes[name] = draw(_odd_text)
    if draw(st.booleans()):
        changes["mjd_obs"] = draw(st.floats(allow_nan=True, allow_infinity=True))
    if draw(st.booleans()) and ab.mcalib:
        field = draw(st.sampled_from(["ref", "tag", "sof_path", "producer"]))
        value = draw(st.sampled_from(["", "-"]) | _odd_text)
        calib: dict[str, Any] = {field: value}
        changes["mcalib"] = (replace(ab.mcalib[0], **calib), *ab.mcalib[1:])
    if draw(st.booleans()) and ab.mcalib:
        changes["massoc"] = (replace(ab.mcalib[0], level=draw(st.integers(-1, 10**12))),)
    if draw(st.booleans()):
        changes["sof_content"] = draw(st.sampled_from([(), (("", ""),), (("$DFO_RAW_DIR/x", ""),)]))
    if draw(st.booleans()):
        key = draw(st.sampled_from(["params", "missing", "waitfor"]))
        changes[key] = (draw(_odd_text),)
    if draw(st.booleans()):
        changes["match_keys"] = ((draw(_odd_text), draw(_odd_text)),)
    return replace(ab, **changes)


@settings(max_examples=500, deadline=None)
@given(any_ab())
def test_any_ab_round_trips_or_is_refused_before_it_is_written(ab: AB) -> None:
    """``parse(render(ab)) == ab`` for every AB render accepts; one it refuses, check refuses too."""
    try:
        text = render(ab)
    except FormatError:
        with pytest.raises(FormatError):
            check(ab)
        return
    assert parse(text, SOURCE) == ab
    assert render(parse(text, SOURCE)) == text


@pytest.mark.parametrize("field", ["dpr_catg", "drs_type", "event", "action", "obs_prog_id", "obs_id", "obs_mode"])
def test_empty_text_fields_come_back_empty(field: str) -> None:
    empty: dict[str, Any] = {field: ""}
    ab = replace(sample_ab(), **empty)
    assert parse(render(ab)) == ab


@pytest.mark.parametrize("field", ["ref", "tag", "sof_path", "producer"])
def test_an_empty_calibration_field_is_refused_not_written_as_a_dash(field: str) -> None:
    """A calibration is a file the recipe reads: an empty header, tag, file or producer could never be
    read back (a ``-`` placeholder would come back as ``-``), so render refuses it naming the field."""
    flat = sample_ab()
    empty: dict[str, Any] = {field: ""}
    ab = replace(flat, mcalib=(replace(flat.mcalib[0], **empty), *flat.mcalib[1:]))
    with pytest.raises(FormatError, match="MCALIB"):
        render(ab)


def test_an_emptied_sof_is_refused_rather_than_read_back_as_the_derived_one() -> None:
    with pytest.raises(FormatError, match="SOF_CONTENT"):
        render(replace(sample_ab(), sof_content=()))


def test_mjds_hold_the_eight_decimals_the_file_holds() -> None:
    ab = replace(sample_ab(), mjd_obs=56335.911116901234)
    assert ab.mjd_obs == 56335.9111169 and parse(render(ab)) == ab


@pytest.mark.parametrize(("field", "value"), [("date", "2013-02-12\n"), ("instrument", "UVES\n"),
                                              ("raw_type", "FLAT\n"), ("name", "x.ab\n")])
def test_a_name_or_date_with_a_trailing_line_break_is_refused(field: str, value: str) -> None:
    """A regular expression's ``$`` also matches before a final line break: names and dates are matched whole."""
    changed: dict[str, Any] = {field: value}
    with pytest.raises(FormatError):
        render(replace(sample_ab(), **changed))


def test_content_key_is_written_read_and_may_be_absent() -> None:
    """CONTENT_KEY is written after LOG_NAME and read back; an AB file without it (written before content
    keys) still reads, as an AB without a key; a value that is no SHA-256 is refused, naming the line."""
    ab = replace(sample_ab(), content_key="ab" * 32)
    text = render(ab)
    assert f"CONTENT_KEY     {'ab' * 32}" in text.splitlines()
    assert parse(text).content_key == "ab" * 32
    old = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("CONTENT_KEY"))
    assert parse(old) == replace(ab, content_key=None)
    with pytest.raises(FormatError, match=r":\d+: CONTENT_KEY 'xyz' must be 64"):
        parse(text.replace("ab" * 32, "xyz"), SOURCE)
    with pytest.raises(FormatError, match="CONTENT_KEY given twice"):
        parse(text.replace("CONTENT_KEY", f"CONTENT_KEY     {'cd' * 32}\nCONTENT_KEY", 1), SOURCE)
