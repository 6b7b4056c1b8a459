"""Raw headers: keyword names (:mod:`.keywords`), the Header view (:mod:`.header`), file I/O (:mod:`.io`).

:mod:`.io` (astropy) is imported when one of its functions is first used: keyword names and the Header view
are needed by commands that never read a FITS file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dfos.headers.header import Header, Value
from dfos.headers.keywords import to_dotted, to_fits

if TYPE_CHECKING:
    from dfos.headers.io import (
        card_pairs,
        card_text,
        fits_primary_header,
        parse_hdr_text,
        read_hdr_file,
        read_header,
        write_hdr,
    )

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

_HEAVY = {name: "dfos.headers.io" for name in ("card_pairs", "card_text", "fits_primary_header", "parse_hdr_text",
                                               "read_hdr_file", "read_header", "write_hdr")}


def __getattr__(name: str) -> Any:
    """The re-exports of heavy modules, imported on first use."""
    if name in _HEAVY:
        return getattr(importlib.import_module(_HEAVY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
