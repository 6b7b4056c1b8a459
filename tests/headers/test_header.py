"""The dotted header view: which cards count, how keys are spelled, typed reads."""

from __future__ import annotations

from datetime import date

import pytest

from dfos.headers.header import Header


@pytest.fixture
def header() -> Header:
    return Header.from_pairs([
        ("HIERARCH ESO DPR TYPE", "BIAS"), ("MJD-OBS", 56335.75), ("EXPTIME", 0), ("ESO DET READ CLOCK", "fast"),
        ("HIERARCH ESO DPR TYPE", "DARK"),  # a repeated card: the first one counts
        ("COMMENT", "dropped"), ("HISTORY", "dropped"), ("", "blank card"), ("END", None),
        ("ESO OBS ID", None),  # a card without a value
        ("SIMPLE", True), ("DATE", date(2013, 2, 12)),  # not a FITS scalar: kept as text
    ])


def test_only_the_first_card_of_a_keyword_and_no_commentary_counts(header: Header) -> None:
    assert dict(header) == {"DPR.TYPE": "BIAS", "MJD-OBS": 56335.75, "EXPTIME": 0, "DET.READ.CLOCK": "fast",
                            "SIMPLE": True, "DATE": "2013-02-12"}
    assert len(header) == 6 and "OBS.ID" not in header


def test_keys_are_read_in_any_spelling(header: Header) -> None:
    assert header["DPR.TYPE"] == header["dpr.type"] == header["HIERARCH ESO DPR TYPE"] == header["ESO DPR TYPE"]
    assert header.get("hierarch eso det read clock") == "fast"
    with pytest.raises(KeyError):
        header["DPR.CATG"]


def test_typed_reads(header: Header) -> None:
    assert header.text("DPR.TYPE") == "BIAS" and header.text("EXPTIME") == "0"
    assert header.text("DPR.CATG") == "" and header.text("DPR.CATG", "-") == "-"
    assert header.number("MJD-OBS") == 56335.75 and header.number("EXPTIME") == 0.0
    assert header.number("SIMPLE") is None  # a truth value is no number
    assert header.number("DPR.TYPE") is None and header.number("DPR.CATG") is None


def test_a_header_is_an_immutable_value() -> None:
    one, two = Header.from_pairs([("EXPTIME", 1.0)]), Header.from_pairs(iter([("EXPTIME", 1.0)]))
    assert one == two
    with pytest.raises(AttributeError):
        one.cards = {}  # type: ignore[misc]
