"""Reuse by content key with real esorex on the small NACO night: asked again, every AB takes the products of
its earlier run (esorex does not start, the run records say reused, the bytes are the same); after a recipe
parameter change only the ABs of that recipe and their descendants (the science using those flats) run."""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from dfos.ab.content import descendants
from dfos.ab.format import render
from dfos.ab.lists import read_ab_list, write_ab_list
from dfos.ab.model import AB, ProcessStatus
from dfos.ab.store import read_ab
from dfos.cascade.run import cascade_state
from dfos.db import ab_runs, content_runs, engine_for_url
from dfos.fsutil import sha256_file
from dfos.keys import BatchId, Mode
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.process_ab import process_ab, record_run
from dfos.workspace import Workspace
from naco_night import CALIB_ABS, FLAT, NIGHT, SCIENCE_ABS, run_naco_night

MODES = (Mode.CALIB, Mode.SCIENCE)


def _esorex_counter(root: Path) -> tuple[Path, Path]:
    """A wrapper that notes each recipe run (esorex called with --output-dir) and runs the real esorex."""
    calls = root / "recipe_runs"
    wrapper = root / "esorex-counting"
    real = shutil.which("esorex")
    assert real is not None
    wrapper.write_text(f'#!/bin/sh\ncase "$*" in *--output-dir*) echo "$*" >> "{calls}";; esac\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper, calls


def _recipe_runs(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.is_file() else []


def _products(ws: Workspace, names: tuple[str, ...]) -> dict[str, str]:
    """Product file -> SHA-256 of every product of ``names`` (the ABs' PROD_PATH files of their PROD_ROOT)."""
    found = {}
    for name in names:
        ab = read_ab(ws.ab_dir, name)
        for path in sorted(ws.expand(ab.prod_path).glob(f"{ab.prod_root}_*")):
            found[str(path)] = sha256_file(path)
    return found


def _ask_again(ws: Workspace) -> None:
    """The date asked for again: its ABs no longer DONE, processed anew by createAB, createJob, exec-cascade."""
    for mode in MODES:
        path = ws.ab_list(mode, NIGHT)
        write_ab_list(path, [replace(entry, done=False) for entry in read_ab_list(path)])
    for mode in MODES:
        create_abs(ws, NIGHT, mode)
        files = create_job(ws, NIGHT, mode)
        assert exec_cascade(ws, BatchId.of(mode, NIGHT).render(), files.exec_ab, slots=2).ok


def _newest_runs(ws: Workspace) -> dict[str, str | None]:
    """AB -> reused_from of its newest run record."""
    with engine_for_url(ws.db_url).begin() as db:
        rows = db.execute(select(ab_runs.c.ab, ab_runs.c.reused_from, ab_runs.c.message).order_by(ab_runs.c.id)).all()
    newest = {row.ab: row for row in rows}
    for row in newest.values():
        assert (row.reused_from is not None) == row.message.startswith("reused from "), row
    return {ab: row.reused_from for ab, row in newest.items()}


def test_the_night_asked_again_reuses_every_product_and_a_parameter_change_runs_only_what_it_changes(
        tmp_path: Path) -> None:
    wrapper, calls = _esorex_counter(tmp_path)
    ws = run_naco_night(tmp_path / "ws", env={"DFOS_ESOREX": str(wrapper)})
    every = (*CALIB_ABS, *SCIENCE_ABS)
    first_runs = _recipe_runs(calls)
    assert len(first_runs) >= len(every)
    keys = {name: read_ab(ws.ab_dir, name).content_key for name in every}
    assert all(keys.values()) and len(set(keys.values())) == len(every)
    before = _products(ws, every)

    _ask_again(ws)
    assert _recipe_runs(calls) == first_runs  # esorex started no recipe
    assert _newest_runs(ws) == {name: name for name in every}  # each reused its own earlier run
    assert _products(ws, every) == before  # byte-identical
    assert all((ws.ab_dir / read_ab(ws.ab_dir, n).log_name).is_file() for n in every)  # each keeps its recipe log
    assert all(read_ab(ws.ab_dir, n).process_status is ProcessStatus.SUCCESSFUL for n in every)
    stat = {row["ab"]: row for mode in MODES for row in cascade_state(ws, BatchId.of(mode, NIGHT).render())}
    assert {name: (stat[name]["state"], stat[name]["reused_from"]) for name in every} == {
        name: ("succeeded", name) for name in every}  # cascade-stat shows it

    # a recipe parameter: the flats get new keys, and so does every AB reading a flat (across modes)
    product_map = ws.root / "config" / "naco.products.oca"
    product_map.write_text(product_map.read_text().replace(
        "action naco_img_twflat { product MASTER_IMG_FLAT; }",
        'action naco_img_twflat { recipe naco_img_twflat { "--prop=TRUE" }; product MASTER_IMG_FLAT; }'))
    _ask_again(ws)
    abs_ = [read_ab(ws.ab_dir, name) for name in every]
    changed = {ab.name for ab in abs_ if ab.content_key != keys[ab.name]}
    flats = set(FLAT.values())
    assert changed == flats | descendants(abs_, flats)
    assert changed & set(SCIENCE_ABS) and set(CALIB_ABS) - changed  # science changed, the dark did not
    ran = _recipe_runs(calls)[len(first_runs):]
    assert len(ran) == len(changed) and all(any(name.removesuffix(".ab") in line for line in ran) for name in changed)
    reused = _newest_runs(ws)
    assert {name for name in every if reused[name] is None} == changed
    assert all(read_ab(ws.ab_dir, f).params == ("--prop=TRUE",) for f in flats)


def test_an_ab_of_the_same_key_takes_hard_links_under_its_own_names(naco_night: Workspace) -> None:
    """Another AB with the same content key (as a second batch of the same night would make) is not run:
    its products are the first AB's bytes, hard-linked under its own names; a changed product is never reused."""
    ws = naco_night
    dark = read_ab(ws.ab_dir, CALIB_ABS[0])
    twin = _twin(ws, dark, "NACO.TWIN_tpl.ab")
    run = process_ab(ws, twin.name)
    record_run(ws, run)
    assert run.ok and run.reused_from == dark.name and run.message.startswith(f"reused from {dark.name}")
    for product in dark.products:
        mine = ws.expand(twin.prod_path) / product.name.replace(dark.prod_root, twin.prod_root)
        theirs = ws.expand(dark.prod_path) / product.name
        assert mine.read_bytes() == theirs.read_bytes() and os.path.samefile(mine, theirs)
    with engine_for_url(ws.db_url).begin() as db:
        rows = db.execute(select(content_runs.c.ab, content_runs.c.reused_from)
                          .where(content_runs.c.content_key == dark.content_key)).all()
    assert (twin.name, dark.name) in [tuple(r) for r in rows]
    assert (ws.ab_dir / twin.log_name).read_bytes() == (ws.ab_dir / dark.log_name).read_bytes()

    # the bytes on disk changed (both copies share them): no recorded run verifies, the recipe runs
    theirs = ws.expand(dark.prod_path) / dark.products[0].name
    theirs.unlink()  # breaks the link; the twin's copy is altered in place
    mine = ws.expand(twin.prod_path) / dark.products[0].name.replace(dark.prod_root, twin.prod_root)
    with mine.open("r+b") as handle:
        handle.seek(-1, os.SEEK_END)
        handle.write(b"\x01")
    other = _twin(ws, dark, "NACO.TRIPLET_tpl.ab")
    again = process_ab(ws, other.name)
    assert again.ok and again.reused_from is None


def _twin(ws: Workspace, ab: AB, name: str) -> AB:
    """A copy of ``ab`` under another name (another product root and log), its content key unchanged."""
    stem = name.removesuffix(".ab")
    twin = replace(ab, name=name, prod_root=f"r.{stem}", log_name=f"{stem}.log", process_status=ProcessStatus.CREATED,
                   products=tuple(replace(p, name=p.name.replace(ab.prod_root, f"r.{stem}")) for p in ab.products))
    (ws.ab_dir / name).write_text(render(twin))
    return twin


