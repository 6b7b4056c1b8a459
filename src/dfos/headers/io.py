"""Reading primary headers from FITS files and ``.hdr`` files; writing ``.hdr`` files.

A ``.hdr`` file is the primary header as text: one 80-character card per line,
ending with the ``END`` card.  Everything downstream reads ``.hdr`` and
``.fits`` alike through :func:`read_header`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

from dfos.errors import FormatError
from dfos.fsutil import write_text_atomic
from dfos.headers.header import Header

__all__ = ["card_text", "fits_primary_header", "parse_hdr_text", "read_header", "write_hdr"]


def fits_primary_header(path: Path) -> fits.Header:
    """The primary header of a FITS file (the pixels are not read)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            return fits.getheader(path, 0)
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path}: not a readable FITS file ({exc})") from None


def card_text(header: fits.Header) -> str:
    """The header as ``.hdr`` text: 80-character cards, one per line, ``END`` last.

    A long string value spans several cards (``CONTINUE``); each gets its own line.
    """
    lines = []
    for card in header.cards:
        image = card.image
        lines += [image[i : i + 80] for i in range(0, len(image), 80)]
    lines.append("END".ljust(80))
    return "\n".join(lines) + "\n"


def parse_hdr_text(text: str, source: str = "<text>") -> fits.Header:
    """Parse ``.hdr`` text back into an astropy header; it must start with the SIMPLE card."""
    if not text.startswith("SIMPLE  =") or not text.isascii() or not text.replace("\n", "").isprintable():
        raise FormatError(f"{source}: not a header file (it must be FITS cards as text, starting with SIMPLE)")
    body = [line.rstrip("\n").ljust(80) for line in text.splitlines()]
    body = [line for line in body if line.strip() and not line.startswith("END ") and line.strip() != "END"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            return fits.Header.fromstring("".join(body))
    except ValueError as exc:
        raise FormatError(f"{source}: not a header file ({exc})") from None


def _pairs(header: fits.Header) -> list[tuple[str, object]]:
    return [(card.keyword, card.value) for card in header.cards]


def read_header(path: Path) -> Header:
    """The primary header of a ``.fits`` or ``.hdr`` file, keyed by dotted names."""
    if path.suffix == ".hdr":
        try:
            text = path.read_text(encoding="ascii", errors="replace")
        except OSError as exc:
            raise FormatError(f"{path}: cannot read ({exc.strerror})") from None
        return Header.from_pairs(_pairs(parse_hdr_text(text, str(path))))
    return Header.from_pairs(_pairs(fits_primary_header(path)))


def write_hdr(path: Path, header: fits.Header) -> bool:
    """Write ``header`` as a ``.hdr`` file atomically; False when the file already holds it."""
    text = card_text(header)
    if path.exists() and path.read_text(encoding="ascii", errors="replace") == text:
        return False
    write_text_atomic(path, text)
    return True
