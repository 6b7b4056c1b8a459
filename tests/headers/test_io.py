"""Header files: .hdr text round-trips, long strings, keyword names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from dfos.errors import FormatError
from dfos.headers.io import card_text, parse_hdr_text, read_header, write_hdr
from dfos.headers.keywords import to_dotted, to_fits


def _fits(tmp_path: Path, header: fits.Header) -> Path:
    path = tmp_path / "UVES.2013-02-12T18:05:00.500.fits"
    fits.PrimaryHDU(data=np.zeros((4, 4), dtype=np.int16), header=header).writeto(path)
    return path


def test_long_string_values_stay_80_character_cards(tmp_path: Path) -> None:
    header = fits.Header()
    header["OBJECT"] = "X" * 150
    header["HIERARCH ESO DPR TYPE"] = "LAMP,FLAT"
    path = _fits(tmp_path, header)
    hdr = tmp_path / "frame.hdr"
    assert write_hdr(hdr, fits.getheader(path)) is True
    lines = hdr.read_text().splitlines()
    assert all(len(line) == 80 for line in lines)
    assert any(line.startswith("CONTINUE") for line in lines)
    assert read_header(hdr)["OBJECT"] == "X" * 150
    assert read_header(hdr) == read_header(path)
    assert write_hdr(hdr, fits.getheader(path)) is False  # unchanged: not rewritten


def test_card_text_parses_back() -> None:
    header = fits.Header([("SIMPLE", True), ("HIERARCH ESO TPL EXPNO", 3), ("EXPTIME", 10.5)])
    again = parse_hdr_text(card_text(header))
    assert list(again.items()) == list(header.items())


def test_unreadable_files_are_format_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"garbage")
    with pytest.raises(FormatError, match="not a readable FITS file"):
        read_header(bad)
    with pytest.raises(FormatError):
        read_header(tmp_path / "missing.hdr")


def test_keyword_names() -> None:
    assert to_dotted("HIERARCH ESO DET WIN1 BINX") == "DET.WIN1.BINX"
    assert to_dotted("ESO DPR CATG") == "DPR.CATG"
    assert to_dotted("MJD-OBS") == "MJD-OBS"
    assert to_fits("DET.WIN1.BINX") == "HIERARCH ESO DET WIN1 BINX"
    assert to_fits(to_dotted("HIERARCH ESO INS GRAT1 WLEN")) == "HIERARCH ESO INS GRAT1 WLEN"


def test_a_header_file_that_is_not_ascii_is_a_format_error_naming_it(tmp_path: Path) -> None:
    hdr = tmp_path / "frame.hdr"
    hdr.write_bytes(b"SIMPLE  =                    T".ljust(80) + b"\nOBJECT  = 'caf\xe9'\nEND\n")
    with pytest.raises(FormatError, match=f"{hdr}:2: byte 0xe9 at offset 95 is not ASCII"):
        read_header(hdr)


def test_unreadable_cards_and_infinite_numbers_are_format_errors(tmp_path: Path) -> None:
    simple = "SIMPLE  =                    T".ljust(80)
    hdr = tmp_path / "frame.hdr"
    for card, words in (("EXPTIME = NaN", "unreadable card EXPTIME"), ("EXPTIME = 1.0E999", "not a finite"),
                        ("LONG    = '" + "x" * 100_000 + "'", "a line of 100012 characters")):
        hdr.write_text(f"{simple}\n{card}\nEND\n")
        with pytest.raises(FormatError, match=words):
            read_header(hdr)
