"""Where an AB's files are, wherever the AB lives (the AB page): in ``$DFO_AB_DIR`` while it is processed, in
``$DFO_LOG_DIR/<DATE>`` after ``move`` and ``finish``.

* products: before move, the files ``<PROD_ROOT_NAME>_*`` under its ``PROD_PATH``; after move, the products the
  moved AB names (updateAB rewrote them to their certified names in ``$DFO_CAL_DIR/<DATE>``, SCIENCE
  ``$DFO_SCI_DIR/<DATE>``), as FITS or, after ``cleanup``, as their ``.hdr`` headers; a rejected AB's products in
  ``$DFO_LOG_DIR/<DATE>/rejected``;
* the association log (``dfos explain``): ``<AB>.alog`` beside the AB file (move keeps it with the AB), else
  ``$DFO_AB_DIR``.
"""

from __future__ import annotations

from pathlib import Path

from dfos.ab.model import AB
from dfos.errors import DfosError, UnsafeName
from dfos.naming import safe_name
from dfos.steps.create_ab import explain_text
from dfos.workspace import Workspace

__all__ = ["ab_explain", "ab_products"]


def _safe(value: str) -> str | None:
    try:
        return safe_name(value)
    except UnsafeName:
        return None


def ab_products(workspace: Workspace, ab: AB, ab_path: Path) -> list[Path]:
    """The AB's product files where they are now (see the module), each once, in name order."""
    found: dict[Path, None] = {}
    prod_root = _safe(ab.prod_root)
    product_dir = workspace.expand(ab.prod_path)
    if prod_root and product_dir.is_dir():
        found.update(dict.fromkeys(sorted(product_dir.glob(f"{prod_root}_*"))))
    for product in ab.products:
        name = _safe(product.name)
        if name is None:
            continue
        path = product_dir / name
        header = path.with_suffix(".hdr")
        if path.is_file():
            found[path] = None
        elif header.is_file():  # cleanup replaced the ingested FITS by its header
            found[header] = None
    rejected = ab_path.parent / "rejected"
    if prod_root and ab_path.parent != workspace.ab_dir and rejected.is_dir():
        found.update(dict.fromkeys(sorted(rejected.glob(f"{prod_root}_*"))))
    return sorted(found, key=lambda p: p.name)


def ab_explain(workspace: Workspace, ab_path: Path) -> str:
    """The association log of the AB in ``ab_path``: beside it, else in ``$DFO_AB_DIR`` (a message when none)."""
    alog = ab_path.parent / f"{ab_path.name.removesuffix('.ab')}.alog"
    if alog.is_file():
        return alog.read_text(encoding="utf-8", errors="replace")
    try:
        return explain_text(workspace, ab_path.name)
    except DfosError as exc:
        return exc.message
