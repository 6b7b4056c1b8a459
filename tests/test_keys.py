"""Processing keys, modes, batch ids and mode flags: every codec round-trips and refuses the rest."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dfos.errors import FormatError, UsageError
from dfos.keys import BatchId, KeyKind, Mode, ProcessingKey, Stage, mode_flag, parse_mode_flag
from dfos.status.flags import StatusFlag

days = st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31))
runs = st.builds(lambda p, c, n, letter: f"{p:03d}.{c}-{n:04d}{letter}",
                 st.integers(60, 999), st.sampled_from("ABCDEH"), st.integers(0, 9999), st.sampled_from("ABCZ"))
new_runs = st.from_regex(r"\A\d{3}\.[0-9A-Z]{4}\.\d{3}\Z")  # from period 110 on: 113.26XA.001
projects = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_.+-]{0,30}\Z").filter(lambda s: not s.endswith("_sub"))
keys = st.one_of(days.map(ProcessingKey.of_date), runs.map(ProcessingKey.parse), new_runs.map(ProcessingKey.parse),
                 projects.map(ProcessingKey.parse))


@given(keys)
def test_key_round_trip(key: ProcessingKey) -> None:
    assert ProcessingKey.parse(key.render()) == key


@given(keys, st.sampled_from(list(Mode)), st.booleans(), st.booleans())
def test_batch_id_round_trip(key: ProcessingKey, mode: Mode, qc: bool, sub: bool) -> None:
    batch = BatchId(mode, key, qc, sub)
    assert BatchId.parse(batch.render()) == batch
    assert batch.base == BatchId(mode, key)


@given(st.sampled_from(list(Mode)), st.sampled_from(list(Stage)))
def test_flag_round_trip(mode: Mode, stage: Stage) -> None:
    assert parse_mode_flag(mode_flag(mode, stage)) == (mode, stage)


def test_kinds_are_told_apart_by_their_written_form() -> None:
    assert ProcessingKey.parse("2013-02-12") == ProcessingKey(KeyKind.DATE, "2013-02-12")
    assert ProcessingKey.parse("2013-02-12").day == date(2013, 2, 12)
    run = ProcessingKey.parse("094.D-0192(A)")
    assert (run.kind, run.text, run.run_id, run.day) == (KeyKind.RUN, "094.D-0192A", "094.D-0192(A)", None)
    assert ProcessingKey.parse("094.D-0192A") == run
    new = ProcessingKey.parse("113.26XA.001")  # ESO's run IDs from period 110 on
    assert (new.kind, new.text, new.run_id) == (KeyKind.RUN, "113.26XA.001", "113.26XA.001")
    assert ProcessingKey.parse("NGC253_followup").kind is KeyKind.PROJECT
    assert ProcessingKey.of(date(2013, 2, 12)) == ProcessingKey.parse("2013-02-12")


@pytest.mark.parametrize("text", ["2013-02-30", "", "12", "-x", "a b", "x/y", "../etc", "P_sub", "094.D-0192(AB)"])
def test_bad_keys_are_refused(text: str) -> None:
    with pytest.raises(UsageError):
        ProcessingKey.parse(text)


def test_batch_ids_read_the_forms_dfos_writes() -> None:
    assert BatchId.parse("CALIB_2013-02-12") == BatchId.of("CALIB", date(2013, 2, 12))
    assert BatchId.parse("QC_SCIENCE_094.D-0192A").qc
    assert BatchId.parse("CALIB_2013-02-12_sub").sub
    assert BatchId.parse("SCIENCE_My_project").key.text == "My_project"
    assert str(BatchId.of(Mode.SCIENCE, "2013-02-12", qc=True)) == "QC_SCIENCE_2013-02-12"


@pytest.mark.parametrize("text", ["CALIB", "calib_2013-02-12", "FOO_2013-02-12", "CALIB_2013-02-30", "QC_", ""])
def test_bad_batch_ids_are_refused(text: str) -> None:
    with pytest.raises(FormatError):
        BatchId.parse(text)


def test_mode_flags_are_the_status_flags() -> None:
    assert mode_flag(Mode.CALIB, Stage.AB) == StatusFlag.CAL_AB
    assert mode_flag("science", Stage.HARVESTED) == StatusFlag.SCI_HARVESTED
    every = {mode_flag(m, s) for m in Mode for s in Stage if not (m is Mode.CALIB and s is Stage.HARVESTED)}
    assert every <= {f.value for f in StatusFlag}
    assert parse_mode_flag("finished") is None and parse_mode_flag("cal_Nope") is None


def test_mode_parse() -> None:
    assert Mode.parse(" science ") is Mode.SCIENCE
    assert Mode.CALIB == "CALIB"  # a StrEnum: old string comparisons stay true
    with pytest.raises(UsageError, match=r"mode .ALL. is not CALIB or SCIENCE"):
        Mode.parse("ALL")
