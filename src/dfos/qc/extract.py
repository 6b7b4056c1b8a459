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


_PAF_KEY = re.compile(r"[A-Z][A-Z0-9_.\-]*")


def _paf_line(line: str) -> tuple[str, str, str] | None:
    """(key, value, comment) of ``KEY  value;  # comment`` (the value ``"quoted"`` or up to the ``;``), else None.

    Split by hand rather than by one regular expression: a long line costs linear time, not cubic."""
    parts = line.strip().split(None, 1)
    if len(parts) != 2 or not _PAF_KEY.fullmatch(parts[0]):
        return None
    key, rest = parts
    close = rest.find('"', 1) if rest.startswith('"') else -1
    if close > 0 and rest[close + 1:].lstrip().startswith(";"):
        value, tail = rest[:close + 1], rest[close + 1:].lstrip()[1:]
    else:
        value, semicolon, tail = rest.partition(";")
        if not semicolon or "#" in value:
            return None
    tail = tail.strip()
    if tail and not tail.startswith("#"):
        return None
    value = value.strip()
    if value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    return key, value, tail[1:].strip()


def parse_paf(text: str) -> dict[str, tuple[str, str]]:
    """The keyword lines of a PAF file: dotted key -> (value as written, comment); the PAF header is skipped."""
    found: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        parsed = _paf_line(line)
        if parsed and not parsed[0].startswith("PAF."):
            found[parsed[0]] = (parsed[1], parsed[2])
    return found


def paf_params(values: Mapping[str, tuple[str, str]], dictionary: QCDictionary | None = None) -> list[QC1Param]:
    """QC1 parameters (``QC.*`` keys) of a parsed PAF file, named as in headers (``QC DARK CURRENT``)."""
    return [_describe(key.replace(".", " "), value, "paf", dictionary, comment)
            for key, (value, comment) in values.items() if key.startswith("QC.")]
