"""Raw headers: keyword names (:mod:`.keywords`), the Header view (:mod:`.header`), file I/O (:mod:`.io`)."""

from dfos.headers.header import Header, Value
from dfos.headers.io import (
    card_pairs,
    card_text,
    fits_primary_header,
    parse_hdr_text,
    read_hdr_file,
    read_header,
    write_hdr,
)
from dfos.headers.keywords import to_dotted, to_fits

__all__ = [
    "Header",
    "Value",
    "card_pairs",
    "card_text",
    "fits_primary_header",
    "parse_hdr_text",
    "read_hdr_file",
    "read_header",
    "to_dotted",
    "to_fits",
    "write_hdr",
]
