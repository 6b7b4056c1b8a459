"""QC1 parameters from header cards, PAF files and the pipelines' dictionaries."""

from __future__ import annotations

from dfos.qc.dictionary import QCDictionary, parse_dictionary
from dfos.qc.extract import header_params, paf_params, parse_paf

DICTIONARY = """\
# a comment
Parameter Name:    QC REGi MIN
Class:             header|qc-log
Type:              integer
Unit:              ADU
Comment Field:     Min of region
Description:       The raw or master bias frame statistics are monitored
                   on several regions

Parameter Name:    QC DARK CURRENT
Unit:              ADU/hr
Comment Field:     Dark current in ADU per hour.
"""

PAF = """\
PAF.HDR.START;
PAF.TYPE            QC1 parameters;          # Type of parameter file
PAF.HDR.END;
QC.DID              "ESO-VLT-DIC.GIRAFFE_QC-0.2"; # QC1 dictionary
PRO.CATG            "MASTER_DARK";           # Pipeline product category
QC.DARK.CURRENT     3.5;                     # Mean master dark current (ADU/hr)
QC.GLOW.POSX        0;
"""


def test_dictionary_placeholders_match_digits() -> None:
    dictionary = QCDictionary(parse_dictionary(DICTIONARY))
    entry = dictionary.lookup("QC REG11 MIN")
    assert entry is not None and entry.unit == "ADU" and entry.description.endswith("on several regions")
    assert dictionary.lookup("QC REGX MIN") is None
    assert dictionary.lookup("QC DARK CURRENT") is not None


def test_header_cards_become_parameters() -> None:
    cards = [("ESO QC DARK CURRENT", 3.25, "comment"), ("HIERARCH ESO QC DID", "UVES-1.14", ""),
             ("ESO QC FLAG", True, ""), ("ESO PRO CATG", "MASTER_DARK", ""), ("ESO QC N", 7, "")]
    params = {p.name: p for p in header_params(cards, QCDictionary(parse_dictionary(DICTIONARY)), "")}
    assert set(params) == {"QC DARK CURRENT", "QC DID", "QC FLAG", "QC N"}
    assert (params["QC DARK CURRENT"].value, params["QC DARK CURRENT"].unit) == (3.25, "ADU/hr")
    assert (params["QC DID"].value, params["QC DID"].text) == (None, "UVES-1.14")
    assert (params["QC FLAG"].value, params["QC FLAG"].text) == (None, "T")
    assert params["QC N"].value == 7.0


def test_paf_lines_become_parameters() -> None:
    values = parse_paf(PAF)
    assert values["PRO.CATG"] == ("MASTER_DARK", "Pipeline product category")
    assert "PAF.TYPE" not in values
    params = {p.name: p for p in paf_params(values)}
    assert set(params) == {"QC DID", "QC DARK CURRENT", "QC GLOW POSX"}
    assert params["QC DARK CURRENT"].value == 3.5 and params["QC DID"].text == "ESO-VLT-DIC.GIRAFFE_QC-0.2"
    assert all(p.source == "paf" for p in params.values())


def test_a_long_paf_line_is_parsed_in_linear_time() -> None:
    """A 5 MB PAF line took the old regular expression cubic time (4,000 characters: 31 s)."""
    import signal

    from dfos.qc.extract import parse_paf

    def hung(*_: object) -> None:
        raise TimeoutError("parse_paf hung on a long line")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)  # a hang guard only: linear parsing takes well under a second
    try:
        assert parse_paf("QC.A" + " " * 5_000_000 + "x") == {}
        assert parse_paf("QC.B  " + "y" * 5_000_000 + " ; # c")["QC.B"][0] == "y" * 5_000_000
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_a_qc_dictionary_of_many_continuation_lines_is_read_in_linear_time() -> None:
    from dfos.qc.dictionary import parse_dictionary

    (entry,) = parse_dictionary("Parameter Name: QC X\nDescription: a\n" + "  more\n" * 200_000)
    assert entry.description.count("more") == 200_000
