"""Products made with a calibration that was rejected later: per AB of a batch, the inputs it was
processed with that came from an AB whose standing certification decision is a rejection.

The rule is :func:`dfos.ab.provenance.trace_rejected`; this module reads what it needs: the standing
rejections (one indexed query over ``certifications``: the ABs ever rejected, then their newest
rows), the batch's AB list,
and the AB files of the batch's ABs and of their producers, upstream as far as they go (in
``$DFO_AB_DIR``, or in ``$DFO_LOG_DIR/<DATE>`` once moved).  Nothing is read when no AB stands
rejected, and an AB file is parsed again only when it changed, so the AB monitor can ask on every
refresh.  The monitor shows the result on the AB monitor, the AB page and the certify page;
``dfos qc1`` as a column.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from sqlalchemy import func, select

from dfos.ab.format import parse
from dfos.ab.lists import read_ab_list
from dfos.ab.model import CalibInput
from dfos.ab.provenance import RejectedInput, Rejection, recipe_inputs, trace_rejected
from dfos.db import certifications, engine_for_url
from dfos.errors import DfosError
from dfos.keys import BatchId, KeyLike, Mode
from dfos.steps.certify import REJECT
from dfos.workspace import Workspace

__all__ = ["rejected_inputs", "rows_with_rejected_inputs", "standing_rejections"]


def standing_rejections(workspace: Workspace, names: Collection[str] | None = None) -> dict[str, Rejection]:
    """Every AB (of ``names``, when given) whose newest certification decision is a rejection, with who decided,
    when and why."""
    ever = select(certifications.c.ab).where(certifications.c.decision == REJECT)  # indexed: a few ABs
    if names is not None:
        ever = ever.where(certifications.c.ab.in_(list(names)))
    newest = (select(func.max(certifications.c.id).label("id")).where(certifications.c.ab.in_(ever))
              .group_by(certifications.c.ab).subquery())
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(certifications.c.ab, certifications.c.by, certifications.c.at,
                                 certifications.c.comment).join(newest, certifications.c.id == newest.c.id)
                          .where(certifications.c.decision == REJECT))
        return {row.ab: Rejection(row.ab, row.by, row.at, row.comment or "") for row in rows}


@functools.lru_cache(maxsize=8192)
def _inputs_of(path: str, _mtime_ns: int, _size: int) -> tuple[CalibInput, ...]:
    """The recipe inputs of an AB file (parsed again only when the file changes)."""
    return recipe_inputs(parse(Path(path).read_text(encoding="utf-8"), path))


def _ab_file(workspace: Workspace, name: str, key: str | None) -> Path | None:
    """Where the AB file of ``name`` is: ``$DFO_AB_DIR``, the log directory of ``key``, of any date."""
    log_dir = workspace.path("DFO_LOG_DIR")
    for candidate in (workspace.ab_dir / name, log_dir / key / name if key else None):
        if candidate is not None and candidate.is_file():
            return candidate
    return next(iter(sorted(log_dir.glob(f"*/{name}"))), None) if log_dir.is_dir() else None


def _read_inputs(workspace: Workspace, name: str, key: str | None) -> tuple[CalibInput, ...]:
    """An AB's recipe inputs; none when its file is missing or damaged (the AB page says why)."""
    path = _ab_file(workspace, name, key)
    if path is None:
        return ()
    try:
        stat = path.stat()
        return _inputs_of(str(path), stat.st_mtime_ns, stat.st_size)
    except (OSError, UnicodeDecodeError, DfosError):
        return ()


def _input_graph(workspace: Workspace, key: str | None, names: Iterable[str],
                 rejected: Mapping[str, Rejection]) -> dict[str, tuple[CalibInput, ...]]:
    """The recipe inputs of ``names`` and of their producers, upstream until a rejected AB."""
    graph: dict[str, tuple[CalibInput, ...]] = {}
    todo = [(name, key) for name in names]
    while todo:
        name, where = todo.pop()
        if name in graph:
            continue
        graph[name] = _read_inputs(workspace, name, where)
        todo += [(cal.producer, None) for cal in graph[name]
                 if cal.producer and cal.producer not in rejected and cal.producer not in graph]
    return graph


def rejected_inputs(workspace: Workspace, mode: Mode | str, key: KeyLike,
                    names: Iterable[str] | None = None,
                    rejections: Mapping[str, Rejection] | None = None) -> dict[str, tuple[RejectedInput, ...]]:
    """Per AB of the batch ``<MODE>_<KEY>`` (or of ``names`` in it), the inputs it was processed with
    that a rejected AB made, directly or upstream; ABs without one are left out.

    ``rejections`` (from :func:`standing_rejections`) saves the query when the caller asks for
    several batches.
    """
    batch = BatchId.of(mode, key)
    standing = standing_rejections(workspace) if rejections is None else rejections
    if not standing:
        return {}
    if names is None:
        names = [entry.name for entry in read_ab_list(workspace.ab_list(batch.mode, batch.key))]
    return _traced(workspace, batch.key.text, list(names), standing)


def _traced(workspace: Workspace, key: str | None, names: list[str],
            standing: Mapping[str, Rejection]) -> dict[str, tuple[RejectedInput, ...]]:
    return trace_rejected(_input_graph(workspace, key, names, standing), standing, names)


def rows_with_rejected_inputs(workspace: Workspace, rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Rows with ``ab`` and ``batch_id`` (``dfos qc1``), each with ``rejected_inputs`` added: a list
    of :meth:`RejectedInput.to_json` (empty for a clean AB, or one of no batch)."""
    standing = standing_rejections(workspace)
    by_batch: dict[str, set[str]] = {}
    for row in rows:
        by_batch.setdefault(str(row["batch_id"]), set()).add(str(row["ab"]))
    found: dict[str, tuple[RejectedInput, ...]] = {}
    for text, names in by_batch.items() if standing else ():
        try:
            key: str | None = BatchId.parse(text).key.text
        except DfosError:  # not a batch id: the AB files are looked for in every date's log directory
            key = None
        found |= _traced(workspace, key, sorted(names), standing)
    return [{**row, "rejected_inputs": [item.to_json() for item in found.get(str(row["ab"]), ())]} for row in rows]
