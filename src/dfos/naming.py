"""File names: raw frames ``<PREFIX>.<YYYY-MM-DDThh:mm:ss.sss>.fits`` (the ARCFILE form),
certified calibrations ``<CODE>_<TYPE>_<YYMMDD><LETTER>_<SETUP>.fits`` and certified science products
``<CODE>_<TYPE>_<YYMMDD>T<hhmmss>_<SETUP>[_<N>].fits`` (DFOS renameProducts CALIBNAME, USERSCINAME).

Each codec refuses any name it cannot parse back: ``X.parse(n.render()) == n``.

Every name that comes from data (a header's ARCFILE, an AB name, a product name, PROD_PATH,
RAW_TYPE, PRO.CATG used in a name) goes through :func:`safe_name` before it touches the file
system, and every path built from such names through :func:`confined`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from dfos.errors import FormatError, UnsafeName

__all__ = ["CALIB_PATTERN", "MAX_NAME_BYTES", "MAX_SCIENCE_NUMBER", "SCIENCE_PATTERN", "CalibName", "RawName",
           "ScienceName", "confined", "pattern_regex", "safe_name", "science_pattern_regex"]

#: The longest file name (in UTF-8 bytes) dfos accepts from data: what POSIX file systems store.
MAX_NAME_BYTES = 255
_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9_+=,@%:.\-]+$")


def _shown(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "...'"


def safe_name(value: object, what: str = "name") -> str:
    """Return ``value`` if it can be one file name taken from data, else raise :class:`UnsafeName`.

    A safe name is one path component of at most :data:`MAX_NAME_BYTES` bytes made of letters,
    digits and ``_ + = , @ % : . -``; it is not ``.`` or ``..`` and does not start with ``-`` or
    ``.`` (no hidden files, nothing a program could take for an option). ``what`` names the
    field in the message (``"ARCFILE of UVES...hdr"``).
    """
    if not isinstance(value, str) or not value:
        raise UnsafeName(f"{what} is empty or not text: {_shown(str(value))}")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise UnsafeName(f"{what} is longer than {MAX_NAME_BYTES} bytes: {_shown(value)}")
    if not _SAFE_NAME_RE.fullmatch(value) or value[0] in "-." or value in (".", ".."):
        raise UnsafeName(f"{what} {_shown(value)} is not a safe file name (one component of letters, digits "
                         "and _+=,@%:.- not starting with '-' or '.')")
    return value


def confined(path: Path, *roots: Path) -> Path:
    """Return ``path`` if, with every link and ``..`` resolved, it lies under one of ``roots``.

    The path need not exist; raise :class:`UnsafeName` naming the path otherwise.
    """
    resolved = Path(path).resolve()
    for root in roots:
        base = Path(root).resolve()
        if resolved == base or base in resolved.parents:
            return Path(path)
    raise UnsafeName(f"{path} lies outside {', '.join(str(r) for r in roots)}: refused")

_RAW_RE = re.compile(
    r"^(?P<prefix>[A-Za-z][A-Za-z0-9_]*)\."
    r"(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})\.fits$"
)


@dataclass(frozen=True, slots=True)
class RawName:
    """A raw frame's archive name."""

    prefix: str
    """Instrument file prefix (``DFO_FILE_NAME``): UVES, GIRAF, ..."""
    moment: datetime
    """Exposure start (DATE-OBS), millisecond precision."""

    def render(self) -> str:
        """The file name, e.g. ``UVES.2013-02-12T18:05:00.500.fits``."""
        stamp = self.moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.moment.microsecond // 1000:03d}"
        name = f"{self.prefix}.{stamp}.fits"
        if RawName.parse(name) != self:
            raise ValueError(f"{self!r} cannot be named losslessly (sub-millisecond time?)")
        return name

    @property
    def stem(self) -> str:
        """The name without ``.fits``."""
        return self.render()[: -len(".fits")]

    @classmethod
    def parse(cls, name: str) -> RawName:
        """Parse an archive file name; raise :class:`FormatError` for anything else."""
        match = _RAW_RE.match(name)
        if not match:
            raise FormatError(f"{name!r} is not an archive file name like UVES.2013-02-12T18:05:00.500.fits")
        try:
            moment = datetime.fromisoformat(match["stamp"])
        except ValueError:
            raise FormatError(f"{name!r}: invalid time stamp") from None
        return cls(prefix=match["prefix"], moment=moment)


#: The default certified name (DFOS renameProducts): ``UV_MBIA_130212A_BLUE.fits``.
CALIB_PATTERN = "{code}_{kind}_{yymmdd}{letter}_{setup}.fits"
_FIELDS = {"code": r"[A-Z][A-Z0-9]{0,3}", "kind": r"[A-Z0-9]{4}", "yymmdd": r"\d{6}", "letter": r"[A-Z]",
           "setup": r"[A-Za-z0-9][A-Za-z0-9-]*"}


def _fields_regex(pattern: str, fields: dict[str, str]) -> re.Pattern[str]:
    """The regular expression of a naming pattern over ``fields`` (name -> regular expression): every
    field exactly once, the rest literal; the pattern ends in ``.fits`` and holds no ``/``."""
    parts = re.split(r"(\{[a-z]+\})", pattern)
    used = [p[1:-1] for p in parts if p.startswith("{")]
    if sorted(used) != sorted(fields) or any((p and "{" in p) or "}" in p for p in parts if not p.startswith("{")):
        raise FormatError(f"naming pattern {pattern!r} must hold each of "
                          f"{' '.join('{' + name + '}' for name in fields)} once")
    if not pattern.endswith(".fits") or "/" in pattern:
        raise FormatError(f"naming pattern {pattern!r} must end in .fits and hold no '/'")
    return re.compile("^" + "".join(f"(?P<{p[1:-1]}>{fields[p[1:-1]]})" if p.startswith("{") else re.escape(p)
                                    for p in parts) + "$")


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression of a certified calibration's naming pattern (:data:`CALIB_PATTERN`)."""
    return _fields_regex(pattern, _FIELDS)


def _yymmdd(text: str, name: str) -> date:
    """A ``YYMMDD`` field as a date of the years 2000-2099."""
    try:
        day = datetime.strptime(text, "%y%m%d").date()
    except ValueError:
        raise FormatError(f"{name!r}: invalid date") from None
    return day.replace(year=day.year + 100) if day.year < 2000 else day


@dataclass(frozen=True, slots=True)
class CalibName:
    """A certified calibration's name, e.g. ``UV_MBIA_130212A_BLUE.fits`` (the fields, laid out by
    a pattern: :data:`CALIB_PATTERN` unless the installation configures another)."""

    code: str
    """The instrument's MCAL code (UV, GI)."""
    kind: str
    """Four characters for the product type (MBIA master bias, MDAR, MFLA, ORDT ...)."""
    day: date
    """The DFO date it certifies (written YYMMDD: years 2000-2099)."""
    letter: str
    """A, B, ...: tells apart products of the same kind, date and setup."""
    setup: str
    """Letters, digits and '-' (BLUE, REDL, 1x1-HR09B ...)."""

    def render(self, pattern: str = CALIB_PATTERN) -> str:
        name = pattern.format(code=self.code, kind=self.kind, yymmdd=f"{self.day:%y%m%d}", letter=self.letter,
                              setup=self.setup)
        try:
            back = CalibName.parse(name, pattern)
        except FormatError:
            back = None
        if not 2000 <= self.day.year <= 2099 or back != self:
            raise ValueError(f"{self!r} cannot be named losslessly with {pattern!r}")
        return name

    @classmethod
    def parse(cls, name: str, pattern: str = CALIB_PATTERN) -> CalibName:
        match = pattern_regex(pattern).match(name)
        if not match:
            example = CalibName("UV", "MBIA", date(2013, 2, 12), "A", "BLUE")
            shown = pattern.format(code=example.code, kind=example.kind, yymmdd="130212", letter="A", setup="BLUE")
            raise FormatError(f"{name!r} is not a certified calibration name like {shown}")
        return cls(match["code"], match["kind"], _yymmdd(match["yymmdd"], name), match["letter"], match["setup"])


#: The default certified science name: ``NA_SCOA_130213T013000_Ks.fits``, ``..._Ks_2.fits``.
SCIENCE_PATTERN = "{code}_{kind}_{yymmdd}T{hhmmss}_{setup}{n}.fits"
_SCIENCE_FIELDS = {"code": _FIELDS["code"], "kind": _FIELDS["kind"], "yymmdd": _FIELDS["yymmdd"],
                   "hhmmss": r"\d{6}", "setup": _FIELDS["setup"], "n": r"(?:_[2-9]|_[1-9]\d{1,3})?"}
#: The largest product number of a science name (``_9999``).
MAX_SCIENCE_NUMBER = 9999


def science_pattern_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression of a certified science product's naming pattern (:data:`SCIENCE_PATTERN`)."""
    return _fields_regex(pattern, _SCIENCE_FIELDS)


@dataclass(frozen=True, slots=True)
class ScienceName:
    """A certified science product's name, e.g. ``NA_SCOA_130213T013000_Ks.fits`` (the fields, laid out
    by a pattern: :data:`SCIENCE_PATTERN` unless the installation configures another).

    The time is the start of the AB's first raw frame (UT, to the second): it tells apart the templates
    of a night, so two science products of one kind and setup differ by it; ``number`` tells apart
    products of the same kind, time and setup (one AB making several), written ``_2``, ``_3`` ... after
    the first (which has none).
    """

    code: str
    """The instrument's MCAL code (NA, UV)."""
    kind: str
    """Four characters for the product type (SCOA: a coadded image ...)."""
    moment: datetime
    """When the AB's first raw frame began (UT, whole seconds; written YYMMDDThhmmss: years 2000-2099)."""
    setup: str
    """Letters, digits and '-' (Ks, BLUE, 1x1 ...)."""
    number: int = 1
    """1, 2, ...: the products of the same kind, time and setup (1 is written as nothing)."""

    def render(self, pattern: str = SCIENCE_PATTERN) -> str:
        if not 1 <= self.number <= MAX_SCIENCE_NUMBER:
            raise ValueError(f"{self!r}: a science name numbers its products 1 to {MAX_SCIENCE_NUMBER}")
        name = pattern.format(code=self.code, kind=self.kind, yymmdd=f"{self.moment:%y%m%d}",
                              hhmmss=f"{self.moment:%H%M%S}", setup=self.setup,
                              n="" if self.number == 1 else f"_{self.number}")
        try:
            back = ScienceName.parse(name, pattern)
        except FormatError:
            back = None
        if not 2000 <= self.moment.year <= 2099 or back != self:
            raise ValueError(f"{self!r} cannot be named losslessly with {pattern!r}")
        return name

    @classmethod
    def parse(cls, name: str, pattern: str = SCIENCE_PATTERN) -> ScienceName:
        match = science_pattern_regex(pattern).match(name)
        if not match:
            shown = pattern.format(code="NA", kind="SCOA", yymmdd="130213", hhmmss="013000", setup="Ks", n="")
            raise FormatError(f"{name!r} is not a certified science product name like {shown}")
        day = _yymmdd(match["yymmdd"], name)
        try:
            clock = datetime.strptime(match["hhmmss"], "%H%M%S").time()
        except ValueError:
            raise FormatError(f"{name!r}: invalid time of day") from None
        number = int(match["n"][1:]) if match["n"] else 1
        return cls(match["code"], match["kind"], datetime.combine(day, clock), match["setup"], number)
