"""Reading primary headers from FITS files and ``.hdr`` files; writing ``.hdr`` files.

A ``.hdr`` file is the primary header as text: one 80-character card per line,
ending with the ``END`` card.  Everything downstream reads ``.hdr`` and
``.fits`` alike through :func:`read_header`.

Bad input is refused with :class:`FormatError` naming the file (never an astropy or Unicode
exception): a ``.hdr`` that is not ASCII text or holds a line longer than one card, a card whose
value astropy cannot parse (``EXPTIME = NaN``, a cut string), a number that is not finite
(``1.0E999`` reads as infinity).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from pathlib import Path

from astropy.io import fits
from astropy.io.fits.verify import VerifyError
from astropy.utils.exceptions import AstropyWarning

from dfos.errors import FormatError
from dfos.fsutil import decode_text, write_text_atomic
from dfos.headers.header import Header
from dfos.headers.keywords import to_fits

__all__ = ["card_pairs", "card_text", "dotted_header", "fits_primary_header", "parse_hdr_text", "read_hdr_file",
           "read_header", "write_hdr"]

#: One FITS card is this many characters; a ``.hdr`` line is one card.
CARD = 80


def dotted_header(values: Iterable[tuple[str, object]]) -> fits.Header:
    """A header of dotted keywords (``DPR.TYPE`` becomes ``HIERARCH ESO DPR TYPE``), built in one go:
    card by card, astropy takes quadratic time."""
    return fits.Header([fits.Card(to_fits(key), value) for key, value in values])


def fits_primary_header(path: Path) -> fits.Header:
    """The primary header of a FITS file (the pixels are not read)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            return fits.getheader(path, 0)
    except (OSError, ValueError, VerifyError) as exc:
        raise FormatError(f"{path}: not a readable FITS file ({exc})") from None


def card_text(header: fits.Header) -> str:
    """The header as ``.hdr`` text: 80-character cards, one per line, ``END`` last.

    A long string value spans several cards (``CONTINUE``); each gets its own line.
    """
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        for card in header.cards:
            image = card.image
            lines += [image[i : i + CARD] for i in range(0, len(image), CARD)]
    lines.append("END".ljust(CARD))
    return "\n".join(lines) + "\n"


def parse_hdr_text(text: str, source: str = "<text>") -> fits.Header:
    """Parse ``.hdr`` text back into an astropy header; it must start with the SIMPLE card and end with END
    (what follows END is ignored, as in FITS).

    Every line is at most one card (80 characters) of printable ASCII; FormatError otherwise.
    """
    if not text.startswith("SIMPLE  =") or not text.isascii() or not text.replace("\n", "").isprintable():
        raise FormatError(f"{source}: not a header file (it must be FITS cards as text, starting with SIMPLE)")
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if len(line) > CARD:
            raise FormatError(f"{source}:{number}: a line of {len(line)} characters; a header card is at most {CARD}")
    end = next((n for n, line in enumerate(lines) if line.rstrip() == "END"), None)
    if end is None:
        raise FormatError(f"{source}: no END card: the header file is cut short; extract it again")
    body = [line.ljust(CARD) for line in lines[:end] if line.strip()]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            return fits.Header.fromstring("".join(body))
    except (ValueError, VerifyError) as exc:
        raise FormatError(f"{source}: not a header file ({exc})") from None


def card_pairs(header: fits.Header, source: str) -> list[tuple[str, object]]:
    """``(keyword, value)`` of every card; FormatError naming ``source`` and the card for a value astropy
    cannot read (``EXPTIME = NaN``, an unclosed string) or a number that is not finite."""
    pairs: list[tuple[str, object]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        for card in header.cards:
            keyword = ""
            try:
                keyword = card.keyword
                value = card.value
            except (VerifyError, ValueError) as exc:
                what = f"card {keyword}" if keyword else "a card"
                raise FormatError(f"{source}: unreadable {what}: its value cannot be parsed ({exc})") from None
            if isinstance(value, float) and not math.isfinite(value):
                raise FormatError(f"{source}: {keyword} is {value}, not a finite number")
            pairs.append((keyword, value))
    return pairs


def read_hdr_file(path: Path) -> fits.Header:
    """A ``.hdr`` file as an astropy header; FormatError naming the file when it is unreadable, not
    ASCII text (the first offending byte is named) or not header cards."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror})") from None
    text = decode_text(data, str(path), "a header file is FITS cards as text", encoding="ascii")
    return parse_hdr_text(text, str(path))


def read_header(path: Path) -> Header:
    """The primary header of a ``.fits`` or ``.hdr`` file, keyed by dotted names."""
    if path.suffix == ".hdr":
        return Header.from_pairs(card_pairs(read_hdr_file(path), str(path)))
    return Header.from_pairs(card_pairs(fits_primary_header(path), str(path)))


def write_hdr(path: Path, header: fits.Header) -> bool:
    """Write ``header`` as a ``.hdr`` file atomically; False when the file already holds it."""
    text = card_text(header)
    if path.exists() and path.read_text(encoding="ascii", errors="replace") == text:
        return False
    write_text_atomic(path, text)
    return True
