"""QC1 parameters from product headers (``HIERARCH ESO QC ...``) and PAF files (``QC.X.Y  value;``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from dfos.qc.dictionary import QCDictionary
from dfos.qc.model import QC1Param, numeric

__all__ = ["header_params", "paf_params", "parse_paf"]


def _describe(name: str, value: object, source: str, dictionary: QCDictionary | None,
              comment: str = "") -> QC1Param:
    number, text = numeric(value)
    entry = dictionary.lookup(name) if dictionary else None
    unit = entry.unit if entry else ""
    description = (entry.comment or entry.description) if entry else comment
    return QC1Param(name, number, text, unit, description or comment, source)


def header_params(cards: Iterable[tuple[str, object, str]], dictionary: QCDictionary | None = None,
                  prefix: str = "") -> list[QC1Param]:
    """QC1 parameters of one header, given as (keyword, value, comment); keywords ``ESO QC ...``
    (astropy's spelling) or ``HIERARCH ESO QC ...``.  ``prefix`` names an extension's parameters."""
    found: dict[str, QC1Param] = {}
    for key, value, comment in cards:
        name = key.removeprefix("HIERARCH ").strip()
        if not name.startswith("ESO QC "):
            continue
        name = name.removeprefix("ESO ")
        found.setdefault(prefix + name, _describe(name, value, "header", dictionary, comment))
    return [QC1Param(n, p.value, p.text, p.unit, p.description, p.source) for n, p in found.items()]


_PAF_LINE = re.compile(r'^(?P<key>[A-Z][A-Z0-9_.\-]*)\s+(?P<value>"[^"]*"|[^;#]*?)\s*;\s*(?:#\s*(?P<comment>.*))?$')


def parse_paf(text: str) -> dict[str, tuple[str, str]]:
    """The keyword lines of a PAF file: dotted key -> (value as written, comment); the PAF header is skipped."""
    found: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        match = _PAF_LINE.match(line.strip())
        if match and not match["key"].startswith("PAF."):
            value = match["value"].strip()
            if value.startswith('"') and value.endswith('"'):
                value = value[1:-1]
            found[match["key"]] = (value, (match["comment"] or "").strip())
    return found


def paf_params(values: Mapping[str, tuple[str, str]], dictionary: QCDictionary | None = None) -> list[QC1Param]:
    """QC1 parameters (``QC.*`` keys) of a parsed PAF file, named as in headers (``QC DARK CURRENT``)."""
    return [_describe(key.replace(".", " "), value, "paf", dictionary, comment)
            for key, (value, comment) in values.items() if key.startswith("QC.")]
