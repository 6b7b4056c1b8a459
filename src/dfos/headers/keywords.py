"""Keyword names: ESO's ``HIERARCH ESO DPR TYPE`` is ``DPR.TYPE`` inside dfos.

Standard FITS keywords (``INSTRUME``, ``MJD-OBS``) keep their names.  The
dotted form is what OCA rules, AB qualifiers and the documentation use.
"""

from __future__ import annotations

__all__ = ["to_dotted", "to_fits"]


def to_dotted(card_keyword: str) -> str:
    """Normalise a card keyword as astropy or a raw card spells it.

    >>> to_dotted("HIERARCH ESO DPR TYPE")
    'DPR.TYPE'
    >>> to_dotted("ESO DET WIN1 BINX")
    'DET.WIN1.BINX'
    >>> to_dotted("MJD-OBS")
    'MJD-OBS'
    """
    words = card_keyword.strip().split()
    if words and words[0].upper() == "HIERARCH":
        words = words[1:]
    if words and words[0].upper() == "ESO":
        words = words[1:]
    return ".".join(words).upper()


def to_fits(dotted: str) -> str:
    """The astropy keyword for a dotted name (``DPR.TYPE`` -> ``HIERARCH ESO DPR TYPE``).

    >>> to_fits("DPR.TYPE")
    'HIERARCH ESO DPR TYPE'
    >>> to_fits("EXPTIME")
    'EXPTIME'
    """
    if "." in dotted:
        return "HIERARCH ESO " + dotted.replace(".", " ")
    return dotted
