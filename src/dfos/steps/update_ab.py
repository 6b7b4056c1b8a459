"""updateAB (DFOS updateAB): the ABs that move touches, rewritten to say where things are now.

* The moved ABs themselves (:func:`updated_ab`): their products under their certified names (a
  CALIB AB: the products it declares, ``PROD_PATH $DFO_CAL_DIR/<DATE>``; a SCIENCE AB: every science
  product it made, ``PROD_PATH $DFO_SCI_DIR/<DATE>``), their virtual inputs that became certified
  masters named as those masters.
* Across batches (:func:`update_users`): once CALIB is moved, every other AB still in ``$DFO_AB_DIR``
  (the SCIENCE ABs of the date, a later date's ABs that used this date's virtual products), whatever
  its state, names the certified masters instead of the virtual products it was associated with:
  ``MCALIB $DFO_CAL_DIR/MCAL/<DATE>/<name>.hdr <TAG> $DFO_CAL_DIR/<DATE>/<name>.fits``, exactly what
  createAB associates from the MCAL memory from then on.  So createAB run again sees the same
  association (no supersession of finished work), and an AB not processed yet reads the master
  where it now is.  An AB of a batch that is moved already (``<mode>_Updated``) is never rewritten.

A master is a file the move put into ``$DFO_CAL_DIR/<DATE>``; ``masters`` maps where it was (the
virtual product's path under ``$DFS_PRODUCT``) to where it is.  Every AB file is written atomically,
under its AB list's lock (the lock processAB holds while it sets PROCESS_STATUS), and read again under
that lock, so no status written meanwhile is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from dfos.ab.format import render
from dfos.ab.lists import ab_list_lock
from dfos.ab.model import AB, CalibInput, Product
from dfos.ab.store import read_ab_file
from dfos.errors import DfosError
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.keys import BatchId, Mode, Stage, mode_flag
from dfos.status.machine import flags_by_key
from dfos.workspace import Workspace

__all__ = ["certified_input", "update_users", "updated_ab", "uses_masters", "with_masters"]

_log = logging.getLogger(__name__)

Expand = Callable[[str], Path]


def certified_input(cal: CalibInput, master: Path, cal_dir: Path | None = None) -> CalibInput:
    """A virtual input as the certified master ``master`` (``$DFO_CAL_DIR/<DATE>/<name>.fits``, or under ``cal_dir``
    wherever it lies: ``$DFO_CAL_DIR/NEW/<DATE>/<name>.fits``) that replaced it: the MCAL header as the reference,
    the master as the file the recipe reads."""
    key = master.parent.name
    folder = master.parent.relative_to(cal_dir).as_posix() if cal_dir is not None else key
    return CalibInput(f"$DFO_CAL_DIR/MCAL/{key}/{master.stem}.hdr", cal.tag, f"$DFO_CAL_DIR/{folder}/{master.name}",
                      virtual=False, producer=None, level=cal.level)


def uses_masters(ab: AB, masters: Mapping[Path, Path], expand: Expand) -> bool:
    """Whether a virtual input of ``ab`` is a product that became a master."""
    return any(cal.virtual and expand(cal.sof_path) in masters for cal in ab.mcalib)


def with_masters(ab: AB, masters: Mapping[Path, Path], expand: Expand, cal_dir: Path | None = None) -> AB:
    """``ab`` with each virtual input that became a master (``masters``: old path -> master, under ``cal_dir``)
    named as that master; an operator's SOF_CONTENT follows the same replacement.  Unchanged when none did."""
    inputs: list[CalibInput] = []
    renamed: dict[str, str] = {}
    for cal in ab.mcalib:
        master = masters.get(expand(cal.sof_path)) if cal.virtual else None
        if master is None:
            inputs.append(cal)
            continue
        inputs.append(certified_input(cal, master, cal_dir))
        renamed[cal.sof_path] = inputs[-1].sof_path
    if not renamed:
        return ab
    sof = None if ab.sof_content is None else tuple((renamed.get(path, path), tag) for path, tag in ab.sof_content)
    return replace(ab, mcalib=tuple(inputs), sof_content=sof)


def updated_ab(ab: AB, mode: Mode, key: str, moved: Mapping[Path, Path], products: list[Product],
               expand: Expand, product_dir: Path, product_ref: str | None = None, cal_dir: Path | None = None) -> AB:
    """A moved, accepted AB as updateAB writes it to ``$DFO_LOG_DIR/<DATE>``.

    ``moved`` maps every moved file to its target; ``products`` are the certified science products of a
    SCIENCE AB (name, PRO.CATG), in plan order.  A CALIB AB keeps its declared products, renamed.
    ``product_ref`` is ``product_dir`` as the AB names it (default ``$DFO_CAL_DIR/<DATE>``, ``$DFO_SCI_DIR/<DATE>``).
    """
    masters = {source: target for source, target in moved.items() if target.parent == product_dir} \
        if mode is Mode.CALIB else {}
    ab = with_masters(ab, masters, expand, cal_dir)
    ref = product_ref or f"${'DFO_SCI_DIR' if mode is Mode.SCIENCE else 'DFO_CAL_DIR'}/{key}"
    if mode is Mode.SCIENCE:
        return replace(ab, products=tuple(products), prod_path=ref) if products else ab
    renamed = []
    for product in ab.products:
        target = moved.get(expand(ab.prod_path) / product.name)
        renamed.append(Product(target.name, product.catg) if target is not None else product)
    if renamed == list(ab.products):
        return ab
    return replace(ab, products=tuple(renamed), prod_path=ref)


def _readable(path: Path) -> AB | None:
    try:
        return read_ab_file(path)
    except DfosError as exc:
        _log.warning("updateAB leaves %s alone: %s", path.name, exc.message)
        return None


def update_users(workspace: Workspace, masters: Mapping[Path, Path]) -> list[str]:
    """updateAB across batches (see the module): the ABs in ``$DFO_AB_DIR`` that name a virtual product which
    is now a master; returns the ABs rewritten."""
    if not masters:
        return []
    flags = flags_by_key(workspace.status_log.read())
    rewritten = []
    for path in sorted(workspace.ab_dir.glob("*.ab")):
        ab = _readable(path)
        if ab is None or not uses_masters(ab, masters, workspace.expand):
            continue
        try:
            batch = BatchId.parse(ab.batch_id)
        except DfosError as exc:
            _log.warning("updateAB leaves %s alone: its BATCH_ID %s", path.name, exc.message)
            continue
        if mode_flag(batch.mode, Stage.UPDATED) in flags.get(batch.key.text, []):
            continue  # its batch is moved: its ABs stand as certified
        with exclusive_lock(ab_list_lock(workspace.ab_list(batch.mode, batch.key))):
            now = _readable(path)  # as it is under the lock (processAB may have set its status meanwhile)
            if now is None:
                continue
            updated = with_masters(now, masters, workspace.expand, workspace.cal_dir)
            if updated != now:
                write_text_atomic(path, render(updated))
                rewritten.append(now.name)
    return rewritten
