"""QC dictionaries: blocks of ``Field: value`` lines, continued lines, placeholders that stand for digits."""

from __future__ import annotations

import glob

import pytest

from dfos.qc.dictionary import DictionaryEntry, QCDictionary, parse_dictionary

TEXT = """\
# comment lines are skipped
Dictionary Name:   ESO-DFS-DIC.TEST_QC
Description:       the preamble has no parameter name: no entry

Parameter Name:    QC OUTi RON MASTER
Class:             header|qc-log
Type:              double
Unit:              e-
Comment Field:     Read noise
Description:       Read noise of the
                   master bias,   per output.

Parameter Name:    QC REGij MIN
Type:              double
Description:       Minimum in a region.

Parameter Name:    QC BIAS LEVEL
Type:              double
Unit:              ADU
"""


def test_entries_are_read_with_continued_descriptions() -> None:
    entries = parse_dictionary(TEXT)
    assert [e.name for e in entries] == ["QC OUTi RON MASTER", "QC REGij MIN", "QC BIAS LEVEL"]
    assert entries[0] == DictionaryEntry("QC OUTi RON MASTER", "e-", "Read noise",
                                         "Read noise of the master bias, per output.", "double")
    assert (entries[1].unit, entries[1].comment) == ("", "")  # fields left out are empty


def test_placeholders_stand_for_digits_and_exact_names_win() -> None:
    dictionary = QCDictionary(parse_dictionary(TEXT))
    found = dictionary.lookup("QC OUT1 RON MASTER")
    assert found is not None and found.unit == "e-"
    found = dictionary.lookup("QC REG12 MIN")
    assert found is not None and found.name == "QC REGij MIN"
    assert dictionary.lookup("QC OUT RON MASTER") is None  # a placeholder needs at least one digit
    assert dictionary.lookup("QC OUTx RON MASTER") is None
    assert dictionary.lookup("QC OUT1 RON MASTER EXTRA") is None  # the whole name must match
    level = dictionary.lookup("QC BIAS LEVEL")
    assert level is not None and level.unit == "ADU"


@pytest.mark.parametrize("text", ["", "no block here\n  indented\n", "Parameter Name:\nUnit: x\n",
                                  "   Description: indented head\n"])
def test_any_text_parses(text: str) -> None:
    assert parse_dictionary(text) == []


@pytest.mark.skipif(not glob.glob("/usr/share/cpl-plugins/uves-*/dic/*_QC"), reason="cpl-plugin-uves not installed")
def test_the_uves_pipelines_dictionary() -> None:
    dictionary = QCDictionary.for_pipeline("uves")
    assert len(dictionary.exact) > 50
    assert dictionary.lookup("QC MODEL ITER3") is not None  # "QC MODEL ITERi" in the file
    assert QCDictionary.for_pipeline("no-such-pipeline").lookup("QC MODEL ITER3") is None
