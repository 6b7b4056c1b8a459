"""Fuzzing the QC file parsers: the pipelines' QC dictionaries (``ESO-DFS-DIC.*_QC``) and the PAF files
recipes leave.  Mutations of real-looking files (cut and duplicated lines, odd and non-UTF-8 bytes, huge
lines) and random text.  Contract: parse or raise FormatError, within the fuzzing deadline (both parse
any text: a line that fits nothing is skipped), in time linear in the input (a 5 MB line included)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dfos.errors import FormatError
from dfos.qc.dictionary import QCDictionary, parse_dictionary
from dfos.qc.extract import paf_params, parse_paf
from fuzzing import fuzz, mutated_bytes

DICTIONARY = (b"# ESO-DFS-DIC.UVES_QC\nParameter Name:    QC OUTi RON MASTER\nClass:             qc-log\n"
              b"Context:           process\nType:              double\nValue Format:      %.2f\nUnit:  ADU\n"
              b"Comment Field:     Read noise in master bias\nDescription:       The read noise, measured\n"
              b"                   in the master bias.\n\nParameter Name:    QC BIAS LEVEL\nType: double\n")
PAF = (b"PAF.HDR.START         ;\nPAF.TYPE             \"pipeline product\" ;\nPAF.HDR.END           ;\n"
       b"PRO.CATG             \"MASTER_BIAS_BLUE\" ;\nQC.BIAS.LEVEL        171.3 ; # [ADU] bias level\n"
       b"QC.OUT1.RON.MASTER   1.25;\nQC.NOTE  \"a; b # c\" ;  # quoted\n")
ODD = [b"\xff", b"\x00", b"\n", b"\r", b"\x85", b"\t", b" ", b";", b"#", b"\"", b":", b"Parameter Name:", b"i",
       b"QC.", b"PAF.", b"\xe2\x80\xa8"]
HUGE = [b" " * 100_000, b"x" * 100_000, b"QC.A " + b" " * 50_000 + b"x", b"  cont\n" * 20_000, b"QC i " * 5000]


def mutated(sample: bytes) -> st.SearchStrategy[str]:
    """Mutations of a real file, as processQC reads them: every byte is a character."""
    return mutated_bytes([sample], ODD, HUGE).map(lambda data: data.decode("latin-1"))


def _dictionary_or_format_error(text: str) -> None:
    try:
        entries = parse_dictionary(text)
    except FormatError as exc:
        assert "\n" not in exc.message
        return
    dictionary = QCDictionary(entries)
    for entry in entries[:5]:
        dictionary.lookup(entry.name)
    dictionary.lookup("QC OUT1 RON MASTER")


def _paf_or_format_error(text: str) -> None:
    try:
        values = parse_paf(text)
    except FormatError as exc:
        assert "\n" not in exc.message
        return
    assert all(isinstance(v, str) and isinstance(c, str) for v, c in values.values())
    paf_params(values)


@given(mutated(DICTIONARY))
@fuzz
def test_mutated_qc_dictionaries(text: str) -> None:
    _dictionary_or_format_error(text)


@given(st.text(max_size=400))
@fuzz
def test_random_text_as_qc_dictionary(text: str) -> None:
    _dictionary_or_format_error(text)


@given(mutated(PAF))
@fuzz
def test_mutated_paf_files(text: str) -> None:
    _paf_or_format_error(text)


@given(st.text(max_size=400))
@fuzz
def test_random_text_as_paf(text: str) -> None:
    _paf_or_format_error(text)
