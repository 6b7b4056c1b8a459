"""processQC: the QC1 parameters of an AB's products into the workspace database, scored.

For every product of a SUCCESSFUL AB (``$DFS_PRODUCT/<RAW_TYPE>/<DATE>/<PROD_ROOT_NAME>_*.fits``):

1. the ``HIERARCH ESO QC ...`` keywords of its headers (an extension's named ``<EXTNAME> QC ...``),
   then the ``QC.*`` lines of the PAF files the recipe left (``<PROD_ROOT_NAME>_*.paf``, matched by
   their PRO.CATG) that the headers do not already hold; units and descriptions from the
   pipeline's QC dictionary;
2. the parameters of every QC procedure registered for the instrument and the product's PRO.CATG
   (or the AB's RAW_TYPE), and its plot, ``$DFO_PLT_DIR/<DATE>/<product>.png``; a procedure sees the
   product, the AB's raw frames, its recipe log and the calibration memory of its date
   (:mod:`dfos.steps.qc_memory`), whatever the AB's mode (CALIB or SCIENCE);
3. all of it replaces what an earlier run stored for the AB (one transaction: a re-run is
   idempotent), then the AB is scored (:func:`dfos.steps.score.score_abs`);
4. what it did (or why it could not) is written to the AB's QC log, ``$DFO_AB_DIR/<AB stem>.qclog``,
   with the text parameters of the procedures (where a value came from, or why there is none).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from sqlalchemy import delete, insert

from dfos import clock
from dfos.ab.model import AB, ProcessStatus
from dfos.dates import format_timestamp
from dfos.db import ab_qc, engine_for_url, qc1_params
from dfos.errors import FormatError, StateError
from dfos.fsutil import write_text_atomic
from dfos.qc.dictionary import QCDictionary
from dfos.qc.extract import header_params, paf_params, parse_paf
from dfos.qc.model import QC1Param
from dfos.qc.procedures import ProductContext, procedures_for
from dfos.steps.process_ab import load_ab
from dfos.steps.qc_memory import calibration_finder, recipe_log
from dfos.steps.score import ScoreResult, score_abs
from dfos.workspace import Workspace

__all__ = ["ProductQC", "QCResult", "measure_ab", "process_qc", "qc_log", "write_qc_problem"]


@dataclass(frozen=True)
class ProductQC:
    product: str
    pro_catg: str
    setup: str
    params: tuple[QC1Param, ...]
    plots: tuple[Path, ...]


@dataclass(frozen=True)
class QCResult:
    ab: str
    products: tuple[ProductQC, ...]
    score: ScoreResult

    @property
    def n_params(self) -> int:
        return sum(len(p.params) for p in self.products)


@functools.cache
def _dictionary(pipeline: str) -> QCDictionary:
    return QCDictionary.for_pipeline(pipeline)


def _first_image(hdul: fits.HDUList) -> np.ndarray | None:
    for hdu in hdul:
        data = getattr(hdu, "data", None)
        if isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU) and data is not None and data.ndim == 2:
            return np.asarray(data)
    return None


def _pafs(product_dir: Path, ab: AB, dictionary: QCDictionary) -> dict[str, list[QC1Param]]:
    found: dict[str, list[QC1Param]] = {}
    for path in sorted(product_dir.glob(f"{ab.prod_root}_*.paf")):
        values = parse_paf(path.read_text(encoding="latin-1"))
        catg = values.get("PRO.CATG", ("", ""))[0]
        found.setdefault(catg, []).extend(paf_params(values, dictionary))
    return found


def measure_ab(workspace: Workspace, ab: AB) -> list[ProductQC]:
    """Every product's QC1 parameters and plots (nothing stored)."""
    plugin = workspace.instrument
    dictionary = _dictionary(plugin.pipeline)
    product_dir = workspace.expand(ab.prod_path)
    pafs = _pafs(product_dir, ab, dictionary)
    raws = tuple(p for p in (workspace.expand(r.ref) for r in ab.rawfiles) if p.is_file())
    log, calibrations = recipe_log(workspace, ab), calibration_finder(workspace, ab)
    plot_dir = workspace.path("DFO_PLT_DIR") / ab.date
    measured = []
    for path in sorted(product_dir.glob(f"{ab.prod_root}_*.fits")):
        with fits.open(path, memmap=False) as hdul:
            header = hdul[0].header
            catg = str(header.get("HIERARCH ESO PRO CATG", ""))
            params = header_params(((c.keyword, c.value, c.comment) for c in header.cards), dictionary)
            for number, hdu in enumerate(hdul[1:], start=1):
                prefix = f"{hdu.header.get('EXTNAME') or f'EXT{number}'} "
                params += header_params(((c.keyword, c.value, c.comment) for c in hdu.header.cards), dictionary,
                                        prefix)
            context = ProductContext(path, catg, ab.raw_type, header.copy(), _first_image(hdul), raws, log, ab.date,
                                     calibrations)
        names = {p.name for p in params}
        params += [p for p in pafs.get(catg, []) if p.name not in names]
        plots = []
        for procedure in procedures_for(plugin.name, catg, ab.raw_type):
            extra = [p for p in procedure.measure(context) if p.name not in names]
            params += extra
            names.update(p.name for p in extra)
            plot = procedure.plot(context, plot_dir / f"{path.stem}.png", extra)
            if plot:
                plots.append(plot)
        measured.append(ProductQC(path.name, catg, plugin.setup(header), tuple(params), tuple(plots)))
    return measured


def process_qc(workspace: Workspace, name: str) -> QCResult:
    """Run processQC for one AB; see the module docstring.  Raises :class:`DfosError` for an AB that did
    not succeed (there is nothing to measure)."""
    try:
        ab = load_ab(workspace, name)
    except UnicodeDecodeError as exc:
        raise FormatError(f"{workspace.ab_dir / Path(name).name} (an AB file) is not UTF-8 text (byte {exc.start}): "
                          "refused") from None
    if ab.process_status is not ProcessStatus.SUCCESSFUL:
        raise StateError(f"{ab.name} is {ab.process_status.value}, not SUCCESSFUL: it has no products to measure")
    products = measure_ab(workspace, ab)
    now = format_timestamp(clock.now(workspace.settings))
    rows = [{"ab": ab.name, "batch_id": ab.batch_id, "date": ab.date, "instrument": ab.instrument,
             "raw_type": ab.raw_type, "pro_catg": product.pro_catg, "product": product.product,
             "setup": product.setup, "mjd_obs": ab.mjd_obs, "name": p.name, "value": p.value, "text": p.text[:255],
             "unit": p.unit, "description": p.description, "source": p.source, "updated": now}
            for product in products for p in product.params]
    with engine_for_url(workspace.db_url).begin() as db:  # stored and scored in one transaction
        db.execute(delete(qc1_params).where(qc1_params.c.ab == ab.name))
        db.execute(delete(ab_qc).where(ab_qc.c.ab == ab.name))
        if rows:
            db.execute(insert(qc1_params), rows)
        db.execute(insert(ab_qc).values(
            ab=ab.name, batch_id=ab.batch_id, date=ab.date, instrument=ab.instrument, raw_type=ab.raw_type,
            n_params=len(rows), n_scored=0, n_red=0, verdict="grey",
            plots="\n".join(str(p) for product in products for p in product.plots), updated=now))
        scored = score_abs(workspace, [ab.name], db)
    result = QCResult(ab.name, tuple(products), scored)
    _write_log(workspace, ab.name, _log_lines(result, now))
    return result


def qc_log(workspace: Workspace, name: str) -> Path:
    """The QC log of an AB (DFOS ``$AB.qclog``): ``$DFO_AB_DIR/<AB stem>.qclog``."""
    return workspace.ab_dir / f"{Path(name).name.removesuffix('.ab')}.qclog"


def _write_log(workspace: Workspace, name: str, lines: list[str]) -> None:
    write_text_atomic(qc_log(workspace, name), "\n".join(lines) + "\n", durable=False)  # processQC remakes it


def _log_lines(result: QCResult, now: str) -> list[str]:
    lines = [f"# processQC of {result.ab} at {now}"]
    for product in result.products:
        sources: dict[str, int] = {}
        for param in product.params:
            sources[param.source] = sources.get(param.source, 0) + 1
        counted = ", ".join(f"{n} {source}" for source, n in sorted(sources.items()))
        lines.append(f"product {product.product}  {product.pro_catg}  setup '{product.setup}'  {counted or 'none'}")
        lines += [f"  {p.name} = {p.text}" for p in product.params
                  if p.value is None and p.source.startswith("procedure:")]
        lines += [f"  plot {plot}" for plot in product.plots]
    name = result.ab
    lines.append(f"score {result.score.summaries.get(name, '0/0')} (red/scored): "
                 f"{result.score.verdicts.get(name, 'grey')}"
                 + ("; certified automatically" if name in result.score.certified else "")
                 + ("; automatic certification withdrawn" if name in result.score.withdrawn else ""))
    return lines


def write_qc_problem(workspace: Workspace, name: str, message: str) -> None:
    """Record in the AB's QC log why processQC could not measure it."""
    now = format_timestamp(clock.now(workspace.settings))
    _write_log(workspace, name, [f"# processQC of {Path(name).name} at {now}", f"FAILED: {message}"])
