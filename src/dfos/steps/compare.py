"""dfos compare (ESO's muc_compare): are two workspaces' results the same?  Per processing key and mode: the ABs
(set, status, recipe, parameters, inputs), the products (PRO.CATG set, pixel statistics, the largest pixel
difference), the QC1 parameters (within a tolerance per parameter), scores and certification decisions.

Both workspaces are only read: each is opened by its root (:func:`dfos.workspace.read_workspace`, nothing
created), its database without migrations and read-only (:mod:`dfos.db.readonly`), its files opened for
reading.  The decisions are :mod:`dfos.qc.compare`; the report's text and HTML :mod:`dfos.qc.compare_render`.
See docs/migration.md for the tolerance file, the JSON keys, the severity order and the exit codes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from astropy.io import fits
from sqlalchemy import Connection, inspect, select

from dfos.ab.lists import read_ab_list
from dfos.ab.model import AB
from dfos.ab.store import read_ab_file
from dfos.db import ab_qc, qc1_params
from dfos.db.readonly import readonly_connection
from dfos.errors import DfosError, FormatError, NotFound, UsageError
from dfos.fsutil import decode_text
from dfos.keys import BatchId, KeyKind, Mode, ProcessingKey
from dfos.qc.compare import (
    DEFAULT_TOLERANCES,
    AbQC,
    CompareReport,
    Difference,
    HduComparison,
    Kind,
    PixelStats,
    ProductComparison,
    QC1Row,
    Tolerances,
    ab_differences,
    ab_set_differences,
    certification_differences,
    parse_tolerances,
    product_differences,
    qc1_differences,
    ranked,
    verdict_differences,
)
from dfos.qc.compare_render import render_html, render_html_body, render_text
from dfos.steps.score import latest_decisions
from dfos.workspace import Workspace

__all__ = ["TOLERANCE_FILE", "CompareReport", "compare_workspaces", "keys_of", "load_tolerances", "render_html",
           "render_html_body", "render_text", "tolerance_file"]

#: A workspace's own tolerances: ``$DFO_CONFIG_DIR/compare_tolerances.toml``.
TOLERANCE_FILE = "compare_tolerances.toml"

Progress = Callable[[int, int], None]

_log = logging.getLogger(__name__)


def tolerance_file(workspace: Workspace) -> Path:
    return workspace.path("DFO_CONFIG_DIR") / TOLERANCE_FILE


def load_tolerances(a: Workspace, b: Workspace, explicit: Path | None = None) -> Tolerances:
    """``explicit`` (``--tolerances``), else A's ``$DFO_CONFIG_DIR/compare_tolerances.toml``, else B's, else the
    defaults (rel 1e-6, abs 1e-9)."""
    if explicit is not None and not Path(explicit).is_file():
        raise NotFound(f"no tolerance file {explicit}")
    for path in (explicit, tolerance_file(a), tolerance_file(b)):
        if path is not None and path.is_file():
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise FormatError(f"{path}: cannot read ({exc.strerror})") from None
            return parse_tolerances(decode_text(data, str(path), "is this a tolerance file?"), str(path))
    return DEFAULT_TOLERANCES


def _batches(workspace: Workspace) -> set[BatchId]:
    """The batches (mode, key) the workspace has an AB list of."""
    found = set()
    if workspace.mon_dir.is_dir():
        for path in workspace.mon_dir.glob("AB_list_*"):
            try:
                batch = BatchId.parse(path.name.removeprefix("AB_list_"))
            except DfosError:
                continue
            if not batch.qc and not batch.sub and path.is_file():
                found.add(batch)
    return found


def keys_of(workspace: Workspace, modes: Iterable[Mode] = tuple(Mode)) -> set[ProcessingKey]:
    """The keys the workspace has an AB list of (in ``modes``)."""
    wanted = set(modes)
    return {batch.key for batch in _batches(workspace) if batch.mode in wanted}


def _chosen_keys(a: Workspace, b: Workspace, keys: Sequence[str] | None, since: date | None,
                 modes: Sequence[Mode]) -> list[ProcessingKey]:
    if keys:
        return sorted({ProcessingKey.of(k) for k in keys})
    found = keys_of(a, modes) | keys_of(b, modes)
    if since is not None:
        found = {k for k in found if k.kind is KeyKind.DATE and k.day is not None and k.day >= since}
    return sorted(found)


def _ab_names(workspace: Workspace, batch: BatchId) -> list[str] | None:
    path = workspace.ab_list(batch.mode, batch.key)
    return [entry.name for entry in read_ab_list(path)] if path.is_file() else None


def _read_ab(workspace: Workspace, key: str, name: str) -> AB | None:
    """The AB file where it is: ``$DFO_AB_DIR``, or ``$DFO_LOG_DIR/<KEY>`` once moved; None when neither has it."""
    for path in (workspace.ab_dir / name, workspace.path("DFO_LOG_DIR") / key / name):
        if path.is_file():
            return read_ab_file(path)
    return None


# -- products and pixels ---------------------------------------------------------------------------------------------

def _product_files(workspace: Workspace, ab: AB) -> list[tuple[str, Path]]:
    """The AB's FITS products where they are for it (``PROD_PATH``: under ``$DFS_PRODUCT``, or the certified
    directory once moved), as ``(PRO.CATG, path)`` ordered by PRO.CATG and name."""
    where = workspace.expand(ab.prod_path)
    paths = {where / p.name for p in ab.products if p.name.endswith(".fits") and (where / p.name).is_file()}
    if where.is_dir():
        paths |= {p for p in where.glob(f"{ab.prod_root}_*.fits") if p.is_file()}
    declared = {p.name: p.catg for p in ab.products}
    out = []
    for path in paths:
        try:
            catg = str(fits.getval(path, "HIERARCH ESO PRO CATG"))
        except (OSError, KeyError, ValueError):
            catg = declared.get(path.name, "?")
        out.append((catg, path))
    return sorted(out, key=lambda pair: (pair[0], pair[1].name))


def _stats(data: np.ndarray) -> PixelStats:
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return PixelStats(None, None, None, None, 0)
    mean = float(finite.mean())
    return PixelStats(mean, float(np.median(finite)), float(np.sqrt(np.mean((finite - mean) ** 2))),
                      float(np.abs(finite).max()), int(finite.size))


def _images(path: Path) -> dict[str, np.ndarray]:
    """Every HDU with image data, by its index and name (``0``, ``1:ERRS``), as float64."""
    out = {}
    with fits.open(path, mode="readonly", memmap=False) as hdul:
        for index, hdu in enumerate(hdul):
            if hdu.is_image and hdu.data is not None and np.size(hdu.data) > 0:
                out[f"{index}:{hdu.name}" if hdu.name and hdu.name != "PRIMARY" else str(index)] = \
                    np.asarray(hdu.data, dtype=np.float64)
    return out


def _hdu(name: str, a: np.ndarray | None, b: np.ndarray | None) -> HduComparison:
    sa = _stats(a) if a is not None else None
    sb = _stats(b) if b is not None else None
    if a is None or b is None:
        return HduComparison(name, sa, sb, None, f"only in {'A' if b is None else 'B'}")
    if a.shape != b.shape:
        return HduComparison(name, sa, sb, None, f"shape {a.shape} in A, {b.shape} in B")
    both = np.isfinite(a) & np.isfinite(b)
    unequal = ~both & ~((a == b) | (np.isnan(a) & np.isnan(b)))
    diff = float(np.abs(a[both] - b[both]).max()) if both.any() else None
    note = f"{int(unequal.sum())} non-finite pixels differ" if unequal.any() else ""
    return HduComparison(name, sa, sb, diff, note)


def _compare_product(key: str, mode: str, ab: str, catg: str, pa: Path, pb: Path) -> ProductComparison:
    try:
        ia, ib = _images(pa), _images(pb)
    except (OSError, ValueError, TypeError) as exc:
        return ProductComparison(key, mode, ab, catg, pa.name, pb.name, (), f"unreadable FITS: {exc}"[:200])
    hdus = tuple(_hdu(name, ia.get(name), ib.get(name)) for name in sorted(set(ia) | set(ib), key=_hdu_order))
    return ProductComparison(key, mode, ab, catg, pa.name, pb.name, hdus)


def _hdu_order(name: str) -> int:
    return int(name.split(":", 1)[0])


def _ranked_by_catg(files: list[tuple[str, Path]]) -> dict[tuple[str, int], Path]:
    seen: dict[str, int] = {}
    out = {}
    for catg, path in files:
        out[(catg, seen.get(catg, 0))] = path
        seen[catg] = seen.get(catg, 0) + 1
    return out


# -- the database ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Db:
    """What compare reads of one side's database for one batch."""

    qc1: list[QC1Row]
    verdicts: dict[str, AbQC]
    decisions: dict[str, tuple[str, str]]


def _read_db(db: Connection | None, batch: str, names: Sequence[str]) -> _Db:
    if db is None or not inspect(db).has_table("qc1_params"):
        return _Db([], {}, {})
    rows = db.execute(select(qc1_params).where(qc1_params.c.batch_id == batch)).mappings()
    qc1 = [QC1Row(r["ab"], r["product"], r["pro_catg"], r["name"], r["value"], r["text"], r["score"], r["low"],
                  r["high"], r["method"]) for r in rows]
    verdicts = {r["ab"]: AbQC(r["ab"], r["verdict"], r["n_red"], r["n_scored"])
                for r in db.execute(select(ab_qc).where(ab_qc.c.batch_id == batch)).mappings()}
    return _Db(qc1, verdicts, latest_decisions(db, names))


# -- one batch -------------------------------------------------------------------------------------------------------

@dataclass
class _Found:
    differences: list[Difference]
    products: list[ProductComparison]
    counts: dict[str, int]

    def count(self, what: str, n: int) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


def _compare_ab(a: Workspace, b: Workspace, batch: BatchId, name: str, found: _Found, tolerances: Tolerances) -> None:
    key, mode = batch.key.text, batch.mode.value
    ab_a, ab_b = _read_ab(a, key, name), _read_ab(b, key, name)
    if ab_a is None or ab_b is None:
        found.differences.append(Difference(key, mode, Kind.AB, name, "AB file", ab_a and name, ab_b and name,
                                            f"{'A' if ab_a is None else 'B'} lists it but has no AB file"))
        return
    found.count("ABs", 1)
    found.differences += ab_differences(key, mode, ab_a, ab_b)
    files_a, files_b = _product_files(a, ab_a), _product_files(b, ab_b)
    ranked_a, ranked_b = _ranked_by_catg(files_a), _ranked_by_catg(files_b)
    compared = [_compare_product(key, mode, name, slot[0], ranked_a[slot], ranked_b[slot])
                for slot in sorted(set(ranked_a) & set(ranked_b))]
    found.count("products", len(compared))
    found.products += compared
    found.differences += product_differences(key, mode, name, [(c, p.name) for c, p in files_a],
                                             [(c, p.name) for c, p in files_b], compared, tolerances)


def _compare_batch(a: Workspace, b: Workspace, dbs: tuple[Connection | None, Connection | None], batch: BatchId,
                   found: _Found, tolerances: Tolerances) -> None:
    key, mode = batch.key.text, batch.mode.value
    names_a, names_b = _ab_names(a, batch), _ab_names(b, batch)
    found.differences += ab_set_differences(key, mode, batch.render(), names_a, names_b)
    if names_a is None or names_b is None:
        return
    both = [n for n in names_a if n in set(names_b)]
    for name in both:
        _compare_ab(a, b, batch, name, found, tolerances)
    everyone = sorted(set(names_a) | set(names_b))
    side_a, side_b = _read_db(dbs[0], batch.render(), everyone), _read_db(dbs[1], batch.render(), everyone)
    found.count("QC1 parameters", len({r.ident for r in side_a.qc1} | {r.ident for r in side_b.qc1}))
    found.differences += qc1_differences(key, mode, side_a.qc1, side_b.qc1, tolerances)
    found.differences += verdict_differences(key, mode, side_a.verdicts, side_b.verdicts)
    found.differences += certification_differences(key, mode, side_a.decisions, side_b.decisions, both)


def compare_workspaces(a: Workspace, b: Workspace, keys: Sequence[str] | None = None, since: date | None = None,
                       mode: Mode | str | None = None, tolerances: Path | None = None,
                       progress: Progress | None = None) -> CompareReport:
    """Compare what A and B made for ``keys`` (default: every key either has an AB list of, from ``since`` on),
    in ``mode`` (default both); see the module.  Reads both, writes neither."""
    if keys and since is not None:
        raise UsageError("give keys or a first date (since), not both")
    modes = [Mode.parse(mode)] if mode is not None else list(Mode)
    rules = load_tolerances(a, b, tolerances)
    if a.db_url == b.db_url and not a.db_url.startswith("sqlite"):
        _log.warning("A and B use the same database (DB_URL): their QC1 parameters, scores and decisions are the "
                     "same rows and cannot differ; give each workspace its own database")
    chosen = _chosen_keys(a, b, keys, since, modes)
    batches = [BatchId.of(m, k) for k in chosen for m in modes]
    found = _Found([], [], {"ABs": 0, "products": 0, "QC1 parameters": 0})
    with readonly_connection(a.db_url) as db_a, readonly_connection(b.db_url) as db_b:
        for done, batch in enumerate(batches):
            if progress is not None:
                progress(done, len(batches))
            _compare_batch(a, b, (db_a, db_b), batch, found, rules)
    if progress is not None:
        progress(len(batches), len(batches))
    return CompareReport(str(a.root), str(b.root), tuple(k.text for k in chosen), ranked(found.differences),
                         tuple(found.products), tuple(found.counts.items()), rules.source)

