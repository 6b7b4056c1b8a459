"""dfos compare, the decisions: what differs between two workspaces' results, how much it matters, and the
tolerances QC1 values and pixels are compared with (``docs/migration.md``).

Pure: values in (ABs, QC1 rows, scores, decisions, pixel statistics measured elsewhere), :class:`Difference`
values out.  :mod:`dfos.steps.compare` reads the two workspaces; :mod:`dfos.qc.compare_render` writes the report.

Severity order (1 matters most; a report lists differences in this order):

1. ``missing``: a batch (AB list), an AB or a product only one side has, or an AB whose processing status differs;
2. ``processing``: the same AB with another recipe, other recipe parameters or other inputs (raw files,
   MCALIB, MASSOC, SOF content);
3. ``qc1``: a QC1 parameter beyond its tolerance, or only on one side;
4. ``pixels``: a product whose pixels differ beyond the pixel tolerance;
5. ``score``: a QC1 score, its thresholds or method, an AB's QC verdict;
6. ``certification``: the standing certification decision of an AB.
"""

from __future__ import annotations

import fnmatch
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from dfos.ab.model import AB, CalibInput
from dfos.errors import FormatError

__all__ = [
    "DEFAULT_TOLERANCES",
    "JSON_FORMAT",
    "AbQC",
    "CompareReport",
    "Difference",
    "HduComparison",
    "Kind",
    "PixelStats",
    "ProductComparison",
    "QC1Row",
    "Severity",
    "Tolerance",
    "ToleranceRule",
    "Tolerances",
    "ab_differences",
    "ab_set_differences",
    "certification_differences",
    "json_safe",
    "parse_tolerances",
    "product_differences",
    "qc1_differences",
    "ranked",
    "verdict_differences",
]

#: The ``format`` value of the JSON report; a change of its keys changes the number.
JSON_FORMAT = "dfos-compare/1"


class Severity(IntEnum):
    """How much a difference matters: 1 most."""

    MISSING = 1
    PROCESSING = 2
    QC1 = 3
    PIXELS = 4
    SCORE = 5
    CERTIFICATION = 6

    @property
    def label(self) -> str:
        return self.name.lower()


class Kind(StrEnum):
    """What differs."""

    BATCH = "batch"
    """An AB list only one side has."""
    AB = "ab"
    """An AB only one side has (or whose file one side cannot read)."""
    STATUS = "status"
    """PROCESS_STATUS or COMPLETENESS of an AB."""
    PRODUCT = "product"
    """A product (PRO.CATG) only one side has."""
    RECIPE = "recipe"
    PARAMS = "params"
    INPUTS = "inputs"
    """RAWFILE, MCALIB, MASSOC or SOF_CONTENT lines."""
    QC1 = "qc1"
    PIXELS = "pixels"
    SCORE = "score"
    """A QC1 parameter's score, thresholds or method; an AB's QC verdict."""
    CERTIFICATION = "certification"

    @property
    def severity(self) -> Severity:
        return _SEVERITY[self]


_SEVERITY = {
    Kind.BATCH: Severity.MISSING, Kind.AB: Severity.MISSING, Kind.STATUS: Severity.MISSING,
    Kind.PRODUCT: Severity.MISSING, Kind.RECIPE: Severity.PROCESSING, Kind.PARAMS: Severity.PROCESSING,
    Kind.INPUTS: Severity.PROCESSING, Kind.QC1: Severity.QC1, Kind.PIXELS: Severity.PIXELS,
    Kind.SCORE: Severity.SCORE, Kind.CERTIFICATION: Severity.CERTIFICATION,
}


@dataclass(frozen=True)
class Difference:
    """One thing A and B disagree on.  ``a`` and ``b`` are JSON values (None: that side has none)."""

    key: str
    mode: str
    kind: Kind
    subject: str
    """The batch (``CALIB_2013-02-12``) or the AB the difference is about."""
    item: str = ""
    """What of it: a field (``RAWFILE``), a product (``MASTER_BIAS_BLUE r.X_0000.fits``), a QC1 parameter."""
    a: Any = None
    b: Any = None
    note: str = ""

    @property
    def severity(self) -> Severity:
        return self.kind.severity

    def sort_key(self) -> tuple[int, str, str, str, str]:
        return (int(self.severity), self.key, self.mode, self.subject, self.item)

    def to_dict(self) -> dict[str, Any]:
        return {"severity": int(self.severity), "severity_name": self.severity.label, "kind": self.kind.value,
                "key": self.key, "mode": self.mode, "subject": self.subject, "item": self.item,
                "a": json_safe(self.a), "b": json_safe(self.b), "note": self.note}


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities written as text (``"nan"``, ``"inf"``): JSON has no numbers for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def ranked(differences: Iterable[Difference]) -> tuple[Difference, ...]:
    """The differences, most important first (then by key, mode, subject, item)."""
    return tuple(sorted(differences, key=Difference.sort_key))


# -- tolerances ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tolerance:
    """Two numbers agree when ``|a - b| <= max(abs, rel * max(|a|, |b|))``."""

    rel: float = 1e-6
    abs: float = 1e-9

    def within(self, a: float | None, b: float | None) -> bool:
        if a is None or b is None:
            return a is b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= max(self.abs, self.rel * max(abs(a), abs(b)))

    def describe(self) -> str:
        return f"rel {self.rel:g}, abs {self.abs:g}"


@dataclass(frozen=True)
class ToleranceRule:
    """A tolerance for the QC1 parameters whose name (and PRO.CATG) match shell-style patterns."""

    param: str
    tolerance: Tolerance
    pro_catg: str = "*"

    def matches(self, name: str, pro_catg: str) -> bool:
        return fnmatch.fnmatchcase(name, self.param) and fnmatch.fnmatchcase(pro_catg, self.pro_catg)


@dataclass(frozen=True)
class Tolerances:
    """The tolerances of a comparison: the first matching rule, else the default; pixels apart."""

    default: Tolerance = Tolerance()
    rules: tuple[ToleranceRule, ...] = ()
    pixels: Tolerance = Tolerance()
    source: str = "defaults"

    def for_param(self, name: str, pro_catg: str) -> Tolerance:
        return next((r.tolerance for r in self.rules if r.matches(name, pro_catg)), self.default)


DEFAULT_TOLERANCES = Tolerances()


def _number(table: Mapping[str, Any], name: str, where: str, default: float) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or math.isinf(value):
        raise FormatError(f"{where}: {name} must be a number >= 0, not {value!r}")
    return float(value)


def _tolerance(table: Any, where: str, fallback: Tolerance) -> Tolerance:
    """A table's ``rel`` and ``abs``; one it does not name is 0 when it names the other, else the fallback's."""
    if not isinstance(table, dict):
        raise FormatError(f"{where}: must be a table with rel and/or abs")
    unknown = set(table) - {"rel", "abs", "param", "pro_catg"}
    if unknown:
        raise FormatError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: param, pro_catg, rel, abs)")
    if "rel" not in table and "abs" not in table:
        return fallback
    return Tolerance(_number(table, "rel", where, 0.0), _number(table, "abs", where, 0.0))


def _pattern(table: Mapping[str, Any], name: str, where: str, default: str | None) -> str:
    value = table.get(name, default)
    if not isinstance(value, str) or not value:
        raise FormatError(f"{where}: {name} must be a non-empty text (a name or a pattern with * and ?)")
    return value


def parse_tolerances(text: str, source: str) -> Tolerances:
    """Read a tolerance file (TOML, see docs/migration.md); :class:`FormatError` naming ``source`` otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormatError(f"{source}: not TOML: {exc}") from None
    unknown = set(data) - {"default", "pixels", "tolerance"}
    if unknown:
        raise FormatError(f"{source}: unknown table {sorted(unknown)[0]!r} (known: default, pixels, [[tolerance]])")
    default = _tolerance(data.get("default", {}), f"{source} [default]", Tolerance())
    pixels = _tolerance(data.get("pixels", {}), f"{source} [pixels]", Tolerance())
    entries = data.get("tolerance", [])
    if not isinstance(entries, list):
        raise FormatError(f"{source}: tolerance must be a list of tables ([[tolerance]])")
    rules = []
    for number, entry in enumerate(entries, start=1):
        where = f"{source} [[tolerance]] #{number}"
        tolerance = _tolerance(entry, where, default)
        rules.append(ToleranceRule(_pattern(entry, "param", where, None), tolerance,
                                   _pattern(entry, "pro_catg", where, "*")))
    return Tolerances(default, tuple(rules), pixels, source)


# -- ABs ---------------------------------------------------------------------------------------------------------

def ab_set_differences(key: str, mode: str, batch: str, a: Sequence[str] | None, b: Sequence[str] | None
                       ) -> list[Difference]:
    """A batch (None: no AB list) or ABs only one side has."""
    if a is None or b is None:
        if a is None and b is None:
            return []
        have = a if a is not None else b
        side = "A" if a is not None else "B"
        return [Difference(key, mode, Kind.BATCH, batch, "AB list", len(a) if a is not None else None,
                           len(b) if b is not None else None, f"only {side} has the AB list ({len(have or ())} ABs)")]
    out = [Difference(key, mode, Kind.AB, name, "AB", name, None, "only in A") for name in a if name not in set(b)]
    out += [Difference(key, mode, Kind.AB, name, "AB", None, name, "only in B") for name in b if name not in set(a)]
    return out


def _calib_line(cal: CalibInput) -> str:
    return f"{cal.tag} {cal.ref} {cal.sof_path}" + (f" VIRTUAL {cal.producer or ''}".rstrip() if cal.virtual else "")


def _lines_diff(key: str, mode: str, ab: str, item: str, a: Sequence[str], b: Sequence[str]) -> list[Difference]:
    """The lines only A has and those only B has, or both lists when they hold the same lines in another order."""
    if list(a) == list(b):
        return []
    only_a = [line for line in a if line not in set(b)]
    only_b = [line for line in b if line not in set(a)]
    kind = Kind.INPUTS if item != "PARAM" else Kind.PARAMS
    if not only_a and not only_b:
        return [Difference(key, mode, kind, ab, item, list(a), list(b), "another order")]
    return [Difference(key, mode, kind, ab, item, only_a, only_b, f"{len(only_a)} only in A, {len(only_b)} only in B")]


def ab_differences(key: str, mode: str, a: AB, b: AB) -> list[Difference]:
    """What differs in what two ABs of the same name run: status, recipe, parameters, inputs.  Paths are compared
    as written (``$DFO_RAW_DIR/...``), so workspaces with different roots agree."""
    out = []
    for item, left, right in (("PROCESS_STATUS", a.process_status.value, b.process_status.value),
                              ("COMPLETENESS", a.completeness.value, b.completeness.value)):
        if left != right:
            out.append(Difference(key, mode, Kind.STATUS, a.name, item, left, right))
    if a.recipe != b.recipe:
        out.append(Difference(key, mode, Kind.RECIPE, a.name, "RECIPE", a.recipe, b.recipe))
    out += _lines_diff(key, mode, a.name, "PARAM", a.params, b.params)
    out += _lines_diff(key, mode, a.name, "RAWFILE", [f"{r.ref} {r.tag}" for r in a.rawfiles],
                       [f"{r.ref} {r.tag}" for r in b.rawfiles])
    out += _lines_diff(key, mode, a.name, "MCALIB", [_calib_line(c) for c in a.mcalib],
                       [_calib_line(c) for c in b.mcalib])
    out += _lines_diff(key, mode, a.name, "MASSOC", [_calib_line(c) for c in a.massoc],
                       [_calib_line(c) for c in b.massoc])
    if a.sof_edited or b.sof_edited:  # else the SOF is RAWFILE and MCALIB, compared already
        out += _lines_diff(key, mode, a.name, "SOF_CONTENT", [f"{p} {t}" for p, t in a.sof],
                           [f"{p} {t}" for p, t in b.sof])
    return out


# -- products ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PixelStats:
    """Statistics of the finite pixels of one image: mean, median, rms (about the mean), the largest |value|."""

    mean: float | None
    median: float | None
    rms: float | None
    peak: float | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "median": self.median, "rms": self.rms, "peak": self.peak, "count": self.count}


@dataclass(frozen=True)
class HduComparison:
    """One image HDU of a product on both sides; ``max_abs_diff`` over the pixels finite on both sides."""

    hdu: str
    a: PixelStats | None
    b: PixelStats | None
    max_abs_diff: float | None
    note: str = ""
    """Why the pixels cannot be compared, or how many non-finite pixels differ (empty: nothing to say)."""

    def to_dict(self) -> dict[str, Any]:
        return {"hdu": self.hdu, "a": self.a.to_dict() if self.a else None,
                "b": self.b.to_dict() if self.b else None, "max_abs_diff": self.max_abs_diff, "note": self.note}


@dataclass(frozen=True)
class ProductComparison:
    """A product both sides made (matched by AB, PRO.CATG and rank among the AB's products of that PRO.CATG)."""

    key: str
    mode: str
    ab: str
    catg: str
    a_name: str
    b_name: str
    hdus: tuple[HduComparison, ...] = ()
    note: str = ""
    """Why the product could not be read (empty: it was)."""

    @property
    def max_abs_diff(self) -> float | None:
        values = [h.max_abs_diff for h in self.hdus if h.max_abs_diff is not None]
        return max(values) if values else None

    def within(self, tolerance: Tolerance) -> bool:
        if self.note or any(h.note for h in self.hdus):
            return False
        for hdu in self.hdus:
            peak = max((s.peak or 0.0) for s in (hdu.a, hdu.b) if s is not None) if (hdu.a or hdu.b) else 0.0
            if hdu.max_abs_diff is not None and hdu.max_abs_diff > max(tolerance.abs, tolerance.rel * peak):
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "mode": self.mode, "ab": self.ab, "pro_catg": self.catg, "a": self.a_name,
                "b": self.b_name, "max_abs_diff": self.max_abs_diff, "note": self.note,
                "hdus": [h.to_dict() for h in self.hdus]}


def product_differences(key: str, mode: str, ab: str, a: Sequence[tuple[str, str]], b: Sequence[tuple[str, str]],
                        compared: Sequence[ProductComparison], tolerances: Tolerances) -> list[Difference]:
    """Products (``(PRO.CATG, name)`` per side) only one side has, and compared ones beyond the pixel tolerance."""
    out = []
    counts_a = _catg_counts(a)
    counts_b = _catg_counts(b)
    for catg in sorted(set(counts_a) | set(counts_b)):
        na, nb = counts_a.get(catg, 0), counts_b.get(catg, 0)
        if na != nb:
            names_a = [n for c, n in a if c == catg]
            names_b = [n for c, n in b if c == catg]
            out.append(Difference(key, mode, Kind.PRODUCT, ab, catg, names_a, names_b,
                                  f"{na} product(s) in A, {nb} in B"))
    for product in compared:
        if not product.within(tolerances.pixels):
            notes = [product.note, *(f"{h.hdu}: {h.note}" for h in product.hdus if h.note)]
            out.append(Difference(key, mode, Kind.PIXELS, ab, f"{product.catg} {product.a_name}",
                                  product.a_name, product.b_name,
                                  "; ".join(n for n in notes if n) or
                                  f"largest |A-B| {product.max_abs_diff:.6g} ({tolerances.pixels.describe()})"))
    return out


def _catg_counts(products: Sequence[tuple[str, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for catg, _ in products:
        counts[catg] = counts.get(catg, 0) + 1
    return counts


# -- QC1, scores, certification ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QC1Row:
    """A row of ``qc1_params`` as compare reads it."""

    ab: str
    product: str
    pro_catg: str
    name: str
    value: float | None
    text: str | None
    score: int | None = None
    low: float | None = None
    high: float | None = None
    method: str | None = None

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.ab, self.product, self.name)

    def shown(self) -> Any:
        return self.value if self.value is not None else self.text

    def scoring(self) -> dict[str, Any]:
        return {"score": self.score, "low": self.low, "high": self.high, "method": self.method}


def _same_value(a: QC1Row, b: QC1Row, tolerance: Tolerance) -> bool:
    if a.value is not None or b.value is not None:
        return tolerance.within(a.value, b.value)
    return (a.text or "") == (b.text or "")


def _same_scoring(a: QC1Row, b: QC1Row, tolerance: Tolerance) -> bool:
    return (a.score == b.score and a.method == b.method and tolerance.within(a.low, b.low)
            and tolerance.within(a.high, b.high))


def qc1_differences(key: str, mode: str, a: Iterable[QC1Row], b: Iterable[QC1Row], tolerances: Tolerances
                    ) -> list[Difference]:
    """QC1 values beyond their tolerance (or only one side has), then changed scores, thresholds, methods.  A
    parameter is the same on both sides when its AB, product and name are."""
    left = {row.ident: row for row in a}
    right = {row.ident: row for row in b}
    out = []
    for ident in sorted(set(left) | set(right)):
        ra, rb = left.get(ident), right.get(ident)
        row = ra or rb
        assert row is not None
        item = f"{row.name} ({row.pro_catg} {row.product})"
        if ra is None or rb is None:
            out.append(Difference(key, mode, Kind.QC1, row.ab, item, ra and ra.shown(), rb and rb.shown(),
                                  f"only in {'A' if rb is None else 'B'}"))
            continue
        tolerance = tolerances.for_param(row.name, row.pro_catg)
        if not _same_value(ra, rb, tolerance):
            note = f"beyond tolerance ({tolerance.describe()})" if ra.value is not None and rb.value is not None \
                else "another value"
            out.append(Difference(key, mode, Kind.QC1, row.ab, item, ra.shown(), rb.shown(), note))
        if not _same_scoring(ra, rb, tolerances.default):
            changed = [k for k, v in ra.scoring().items() if v != rb.scoring()[k]]
            out.append(Difference(key, mode, Kind.SCORE, row.ab, item, ra.scoring(), rb.scoring(),
                                  "changed: " + ", ".join(changed)))
    return out


@dataclass(frozen=True)
class AbQC:
    """An AB's QC summary (``ab_qc``)."""

    ab: str
    verdict: str
    n_red: int
    n_scored: int


def verdict_differences(key: str, mode: str, a: Mapping[str, AbQC], b: Mapping[str, AbQC]) -> list[Difference]:
    """ABs whose QC verdict or red count differs (an AB without QC on one side has the verdict None)."""
    out = []
    for ab in sorted(set(a) | set(b)):
        qa, qb = a.get(ab), b.get(ab)
        shown_a = None if qa is None else f"{qa.verdict} {qa.n_red}/{qa.n_scored}"
        shown_b = None if qb is None else f"{qb.verdict} {qb.n_red}/{qb.n_scored}"
        if shown_a != shown_b:
            out.append(Difference(key, mode, Kind.SCORE, ab, "QC verdict", shown_a, shown_b,
                                  "verdict red/scored"))
    return out


def certification_differences(key: str, mode: str, a: Mapping[str, tuple[str, str]], b: Mapping[str, tuple[str, str]],
                              names: Iterable[str]) -> list[Difference]:
    """ABs (of ``names``) whose standing decision (decision, by) differs; ``by`` alone does not count."""
    out = []
    for ab in sorted(set(names)):
        da, db = a.get(ab), b.get(ab)
        if (da and da[0]) != (db and db[0]):
            out.append(Difference(key, mode, Kind.CERTIFICATION, ab, "decision",
                                  da and f"{da[0]} ({da[1]})", db and f"{db[0]} ({db[1]})"))
    return out


# -- the report ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CompareReport:
    """What ``dfos compare`` found: A and B (their roots), the keys compared, the differences ranked."""

    a: str
    b: str
    keys: tuple[str, ...]
    differences: tuple[Difference, ...]
    products: tuple[ProductComparison, ...] = ()
    """Every product both sides have, with its pixel statistics (also those that agree)."""
    counts: tuple[tuple[str, int], ...] = field(default=())
    """What was compared: ``("ABs", 5)``, ``("products", 7)``, ``("QC1 parameters", 120)`` ..."""
    tolerances: str = "defaults"
    """Where the tolerances came from."""

    @property
    def agree(self) -> bool:
        """No difference beyond tolerance."""
        return not self.differences

    def agree_on(self, key: str) -> bool:
        return not any(d.key == key for d in self.differences)

    def by_severity(self) -> dict[Severity, int]:
        counts: dict[Severity, int] = {}
        for d in self.differences:
            counts[d.severity] = counts.get(d.severity, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": JSON_FORMAT,
            "a": self.a,
            "b": self.b,
            "agree": self.agree,
            "keys": {key: self.agree_on(key) for key in self.keys},
            "tolerances": self.tolerances,
            "counts": dict(self.counts),
            "by_severity": {s.label: n for s, n in sorted(self.by_severity().items())},
            "differences": [{"rank": n, **d.to_dict()} for n, d in enumerate(self.differences, start=1)],
            "products": [p.to_dict() for p in self.products],
        }
