"""Reuse by content key: an AB whose recipe call was made before (the same CONTENT_KEY) takes the products of
that run instead of running its recipe again.

The rule (processAB asks it before it fetches anything or starts esorex):

* the AB's key is computed anew from the AB file as it is (:func:`current_key`: an operator may have edited
  its parameters or SOF since createAB wrote it), parents' keys from their AB files;
* a run may be reused when it is recorded in ``content_runs`` under that key (only successful runs are
  recorded), was not superseded (createAB marks the runs of a superseded AB), its AB's newest certification
  decision is not a rejection, and every one of its products is still where it was put with the size and
  SHA-256 recorded (a product changed on disk, moved or removed disqualifies the run);
* the AB's declared products are among the run's, under the same suffix and PRO.CATG (:func:`covers`);
* the products are hard-linked (copied, verified, across file systems) into this AB's PROD_PATH under this
  AB's product names (``<PROD_ROOT_NAME><suffix>``: the same suffix ``_0000.fits``, ``_qc0000.paf`` ...),
  the recipe log is copied to its LOG_NAME, and the run is recorded as successful with
  ``reused from <AB> (content key <first 12 digits>)`` and ``ab_runs.reused_from``;
* a run that does execute records its products under the key (:func:`made_products`,
  :func:`record_content_run`), and so does a reuse (a second place the same bytes may be taken from).

Two ABs of the same key that run at the same moment both run (nothing is held while a recipe runs).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dfos.ab.model import AB
from dfos.errors import DfosError
from dfos.fsutil import sha256_file
from dfos.workspace import Workspace

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["ContentRun", "StoredProduct", "covers", "current_key", "made_products", "mark_superseded", "place",
           "record_content_run", "reusable"]


@dataclass(frozen=True)
class StoredProduct:
    """One product of a recorded run: its name after the AB's PROD_ROOT_NAME, where it is, its bytes."""

    suffix: str
    path: str
    """As the AB names its directory: ``$DFS_PRODUCT/IMG/2013-02-12/r.NACO..._0000.fits``."""
    sha256: str
    size: int
    catg: str = ""
    """The PRO.CATG the AB declared for it ('' for a product it did not declare: ``_0001.fits``, a ``.paf``)."""


@dataclass(frozen=True)
class ContentRun:
    """A successful run recorded under a content key."""

    key: str
    ab: str
    products: tuple[StoredProduct, ...]
    log: str
    reused_from: str | None = None

    def products_json(self) -> str:
        return json.dumps([p.__dict__ for p in self.products], separators=(",", ":"))


def current_key(workspace: Workspace, ab: AB) -> str | None:
    """The content key of the AB file as it is now (None: a parent without a key)."""
    from dfos.steps.content_keys import with_content_keys

    return with_content_keys(workspace, [ab])[0].content_key


def made_products(workspace: Workspace, ab: AB, key: str, placed: Sequence[Path], log: Path,
                  reused_from: str | None = None) -> ContentRun:
    """What a run placed, with each file's size and SHA-256, to record under ``key``."""
    products = []
    declared = {p.name: p.catg for p in ab.products}
    for path in placed:
        if not path.name.startswith(ab.prod_root):
            continue
        products.append(StoredProduct(path.name[len(ab.prod_root):], f"{ab.prod_path}/{path.name}", sha256_file(path),
                                      path.stat().st_size, declared.get(path.name, "")))
    return ContentRun(key, ab.name, tuple(products), str(log), reused_from)


def covers(source: ContentRun, ab: AB) -> bool:
    """Every product ``ab`` declares is among ``source``'s under the same name after the product root and with
    the same PRO.CATG (declared products are not part of the key: a product map may declare others)."""
    made = {(p.suffix, p.catg) for p in source.products}
    return all((p.name[len(ab.prod_root):], p.catg) in made for p in ab.products)


def _verified(workspace: Workspace, products: Sequence[StoredProduct]) -> bool:
    """Every product is still there with the bytes recorded."""
    for product in products:
        try:
            path = workspace.expand(product.path)
            if path.stat().st_size != product.size or sha256_file(path) != product.sha256:
                return False
        except (OSError, DfosError):
            return False
    return True


def _rejected(workspace: Workspace, names: set[str]) -> set[str]:
    from dfos.steps.chain import rejections

    return set(rejections(workspace, names))


def reusable(workspace: Workspace, key: str, ab: AB) -> ContentRun | None:
    """The newest run recorded under ``key`` whose products ``ab`` may take (see the module docstring), else
    None."""
    from sqlalchemy import select

    from dfos.db import content_runs, engine_for_url

    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(content_runs).where(content_runs.c.content_key == key,
                                                     content_runs.c.superseded.is_(None))
                          .order_by(content_runs.c.id.desc())).all()
    if not rows:
        return None
    rejected = _rejected(workspace, {row.ab for row in rows} | {row.reused_from for row in rows if row.reused_from})
    for row in rows:
        if row.ab in rejected or row.reused_from in rejected:
            continue
        try:
            products = tuple(StoredProduct(**item) for item in json.loads(row.products))
        except (ValueError, TypeError):
            continue
        run = ContentRun(key, row.ab, products, row.log, row.reused_from)
        if products and covers(run, ab) and _verified(workspace, products):
            return run
    return None


def place(workspace: Workspace, ab: AB, product_dir: Path, source: ContentRun, log: Path,
          placed: list[Path]) -> None:
    """Put ``source``'s products into ``product_dir`` under ``ab``'s names (hard links, else verified copies;
    a product that already is the same file stays), and its log at ``log``; each product placed is added to
    ``placed``.  OSError when a file cannot be written."""
    from dfos.naming import confined, safe_name
    from dfos.steps.fetch import copy_verified  # the archive client is imported only when needed

    product_dir.mkdir(parents=True, exist_ok=True)
    for product in source.products:
        origin = workspace.expand(product.path)
        target = confined(product_dir / safe_name(ab.prod_root + product.suffix, "product name"), product_dir)
        if target.exists() and os.path.samefile(origin, target):
            placed.append(target)
            continue
        temporary = target.with_name(f".{target.name}.reused")
        temporary.unlink(missing_ok=True)
        try:
            os.link(origin, temporary)
        except OSError:
            copy_verified(origin, temporary)
        os.replace(temporary, target)
        placed.append(target)
    _copy_log(Path(source.log), log)


def _copy_log(origin: Path, log: Path) -> None:
    """The recipe log of the reused run as this AB's log (a copy: processAB writes logs in place); when there
    is none, no log (never an earlier run's).  A log is for the reader: a missing one does not stop the reuse."""
    from dfos.steps.fetch import copy_verified

    try:
        if origin.resolve() == log.resolve():
            return  # the AB's own earlier run: its log is there
        if origin.is_file():
            copy_verified(origin, log)
            return
    except OSError:
        pass
    with contextlib.suppress(OSError):
        log.unlink(missing_ok=True)


def record_content_run(db: Connection, run: ContentRun, batch_id: str, created: str) -> None:
    """Record ``run`` under its key (inside the caller's transaction)."""
    from sqlalchemy import insert

    from dfos.db import content_runs

    db.execute(insert(content_runs), {"content_key": run.key, "ab": run.ab, "batch_id": batch_id,
                                      "products": run.products_json(), "log": run.log, "reused_from": run.reused_from,
                                      "created": created, "superseded": None})


def mark_superseded(workspace: Workspace, ab: str, when: str) -> None:
    """The runs recorded for ``ab`` are never reused again (createAB superseded the AB's run)."""
    from sqlalchemy import update

    from dfos.db import content_runs, engine_for_url

    with engine_for_url(workspace.db_url).begin() as db:
        db.execute(update(content_runs).where(content_runs.c.ab == ab, content_runs.c.superseded.is_(None))
                   .values(superseded=when))
