"""What processQC hands a QC procedure beyond the product: the AB's recipe log and the calibration
memory of the AB's date.

The calibration memory is what createAB associates from (``docs/processing.md``): certified masters,
``$DFO_CAL_DIR/MCAL/<DATE>/<name>.hdr`` (the master's own header; the file is
``$DFO_CAL_DIR/<DATE>/<name>.fits``), of the newest ``N_MCAL_LIST`` dates up to the AB's, and virtual
products, ``$DFO_CAL_DIR/VCAL/<DATE>/<name>.hdr`` (``DFOS.FILE`` says where the product of the AB
``DFOS.AB`` is), of the newest ``N_VCAL_LIST`` dates.  A virtual product counts once its AB has made
it (the file exists, under ``$DFS_PRODUCT``, ``$DFO_CAL_DIR`` or ``$DFO_SCI_DIR``) and unless a person
or scoring has rejected that AB; its header is read from the product itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from dfos.ab.model import AB
from dfos.errors import DfosError
from dfos.headers.header import Header
from dfos.qc.procedures import CalibrationProduct
from dfos.steps.calib_memory import master_file
from dfos.workspace import Workspace

__all__ = ["calibration_finder", "recipe_log"]


def recipe_log(workspace: Workspace, ab: AB) -> Path | None:
    """The AB's recipe log: ``$DFO_AB_DIR/<LOG_NAME>`` (where processAB keeps it), else
    ``$DFO_LOG_DIR/<DATE>/<LOG_NAME>`` (where move puts it); None when neither exists."""
    name = Path(ab.log_name).name
    if not name:
        return None
    for folder in (workspace.ab_dir, workspace.path("DFO_LOG_DIR") / ab.date):
        if (folder / name).is_file():
            return folder / name
    return None


def _dates(base: Path, day: str, newest: int) -> list[str]:
    names = sorted(p.name for p in base.iterdir() if p.is_dir() and len(p.name) == 10 and p.name <= day) \
        if base.is_dir() else []
    return names[-newest:] if newest > 0 else []


def _header(path: Path) -> Header | None:
    from dfos.headers.io import read_header

    try:
        return read_header(path)
    except (DfosError, OSError, ValueError):
        return None


def _inside(workspace: Workspace, path: Path) -> bool:
    from dfos.naming import confined

    try:
        confined(path, workspace.path("DFS_PRODUCT"), workspace.cal_dir, workspace.path("DFO_SCI_DIR"))
    except DfosError:
        return False
    return True


def _rejected(workspace: Workspace, producers: set[str]) -> set[str]:
    from dfos.db import engine_for_url
    from dfos.steps.certify import REJECT
    from dfos.steps.score import latest_decisions

    if not producers:
        return set()
    with engine_for_url(workspace.db_url).begin() as db:
        return {ab for ab, (decision, _) in latest_decisions(db, producers).items() if decision == REJECT}


def _find(workspace: Workspace, day: str, pro_catg: str) -> list[CalibrationProduct]:
    settings = workspace.settings
    found: list[CalibrationProduct] = []
    for kind, newest in (("MCAL", settings.N_MCAL_LIST), ("VCAL", settings.N_VCAL_LIST)):
        base = workspace.cal_dir / kind
        for folder in _dates(base, day, newest):
            for hdr in sorted((base / folder).glob("*.hdr")):
                entry = _header(hdr)
                if entry is None or entry.text("PRO.CATG") != pro_catg:
                    continue
                header: Header | None = entry
                if kind == "MCAL":
                    ref = master_file({"DFOS.FILE": entry.text("DFOS.FILE")}, folder, hdr.stem)
                else:
                    ref = entry.text("DFOS.FILE")
                    product = workspace.expand(ref)
                    made = bool(ref) and product.is_file() and _inside(workspace, product)
                    header = _header(product) if made else None  # not made (yet), or not where products are
                if header is not None:
                    found.append(CalibrationProduct(pro_catg, ref, kind, folder, entry.text("DFOS.AB"),
                                                    header.number("MJD-OBS") or 0.0, header))
    rejected = _rejected(workspace, {c.producer for c in found if c.memory == "VCAL" and c.producer})
    return [c for c in found if not (c.memory == "VCAL" and c.producer in rejected)]


def calibration_finder(workspace: Workspace, ab: AB) -> Callable[[str], Sequence[CalibrationProduct]]:
    """PRO.CATG -> the calibration products of the memory of the AB's date (see the module docstring),
    each PRO.CATG looked up once."""
    cache: dict[str, tuple[CalibrationProduct, ...]] = {}

    def find(pro_catg: str) -> Sequence[CalibrationProduct]:
        if pro_catg not in cache:
            cache[pro_catg] = tuple(_find(workspace, ab.date, pro_catg))
        return cache[pro_catg]

    return find
