"""processAB and names from data: an edited AB cannot send products or logs outside the workspace, and a
full disk is an infrastructure failure that leaves the AB as it was (no esorex needed: a stand-in)."""

from __future__ import annotations

import errno
import os
from dataclasses import replace
from pathlib import Path

import pytest

from dfos.ab.format import render
from dfos.ab.model import AB, Completeness, ProcessStatus, Product
from dfos.cli.main import main
from dfos.errors import UnsafeName
from dfos.steps import process_ab as step
from dfos.steps.process_ab import load_ab, process_ab
from dfos.workspace import Workspace, open_workspace

#: A stand-in for esorex: makes two products and lists them in products.json, as esorex does.
FAKE_ESOREX = """#!/bin/sh
printf 'P1' > out_a.fits
printf 'P2' > out_b.fits
printf '[{"name": "out_a.fits", "category": "MASTER_A"}, {"name": "out_b.fits", "category": "MASTER_B"}]' \\
  > products.json
echo '[ INFO  ] done' > esorex.log
exit 0
"""


def _ab(**changes: object) -> AB:
    ab = AB(name="P.ab", instrument="UVES", date="2013-02-12", dpr_catg="CALIB", raw_type="T", recipe="make",
            drs_type="CON", batch_id="CALIB_2013-02-12", event="E", action="A", completeness=Completeness.COMPLETE,
            process_status=ProcessStatus.CREATED, obs_prog_id="-", obs_id="-", obs_mode="NONE", mjd_obs=0.0,
            mjd_obs_mod=0.0, prod_root="r.P", prod_path="$DFS_PRODUCT/T/2013-02-12", log_name="r.P.log",
            match_keys=(), rawfiles=(), mcalib=(), massoc=(), params=(),
            products=(Product("r.P_0000.fits", "MASTER_A"), Product("r.P_0001.fits", "MASTER_B")), waitfor=(),
            missing=())
    return replace(ab, **changes)  # type: ignore[arg-type]


@pytest.fixture
def faked(workspace: Workspace, tmp_path: Path) -> Workspace:
    esorex = tmp_path / "fake-esorex"
    esorex.write_text(FAKE_ESOREX)
    esorex.chmod(0o755)
    return open_workspace(workspace.root, env={"DFOS_ESOREX": str(esorex)})


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_the_stand_in_places_products_where_the_ab_says(faked: Workspace) -> None:
    (faked.ab_dir / "P.ab").write_text(render(_ab()))
    run = process_ab(faked, "P.ab")
    assert run.ok, run.message
    product_dir = faked.path("DFS_PRODUCT") / "T" / "2013-02-12"
    assert [p.name for p in _files(product_dir)] == ["r.P_0000.fits", "r.P_0001.fits"]


@pytest.mark.parametrize("field", ["prod_path", "products", "log_name", "prod_root"])
def test_an_edited_ab_cannot_write_outside_the_workspace(faked: Workspace, tmp_path: Path, field: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_text("keep me")
    up = os.path.relpath(outside, faked.ab_dir)
    escapes: dict[str, dict[str, object]] = {
        "prod_path": {"prod_path": f"$DFS_PRODUCT/{os.path.relpath(outside, faked.path('DFS_PRODUCT'))}"},
        "products": {"products": (Product(f"{os.path.relpath(outside, faked.path('DFS_PRODUCT') / 'T' / '2013-02-12')}"
                                          "/pwn.fits", "MASTER_A"), Product("r.P_0001.fits", "MASTER_B"))},
        "log_name": {"log_name": f"{up}/victim"},
        "prod_root": {"prod_root": f"{up}/pwn"},
    }
    escape = escapes[field]
    ab_file = faked.ab_dir / "P.ab"
    with pytest.MonkeyPatch.context() as patch:  # an AB edited by hand: dfos itself never writes such a file
        patch.setattr("dfos.ab.format.check", lambda ab: ab)
        ab_file.write_text(render(_ab(**escape)))
    before = ab_file.read_text()
    with pytest.raises(UnsafeName):
        process_ab(faked, "P.ab")
    assert _files(outside) == [victim] and victim.read_text() == "keep me"
    assert ab_file.read_text() == before  # not marked FAILED: it never ran
    code = main(["--root", str(faked.root), "process-ab", "-a", "P.ab"])
    err = capsys.readouterr().err
    assert code == 5 and len(err.splitlines()) == 1 and err.startswith("Error: ")
    assert _files(outside) == [victim] and victim.read_text() == "keep me"


def test_a_full_disk_is_an_infrastructure_failure_that_leaves_the_ab_as_it_was(
        faked: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (faked.ab_dir / "P.ab").write_text(render(_ab()))
    real = step._place
    calls: list[Path] = []

    def full_disk(source: Path, target: Path) -> None:
        calls.append(target)
        if len(calls) == 2:  # the first product went in, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        real(source, target)

    monkeypatch.setattr(step, "_place", full_disk)
    run = process_ab(faked, "P.ab")
    assert (run.ok, run.failure) == (False, "infrastructure")
    assert "No space left on device (ENOSPC)" in run.message and "keeps PROCESS_STATUS CREATED" in run.message
    assert load_ab(faked, "P.ab").process_status is ProcessStatus.CREATED  # not FAILED as if the recipe failed
    product_dir = faked.path("DFS_PRODUCT") / "T" / "2013-02-12"
    assert _files(product_dir) == []  # the half-placed product was taken back
    calls.clear()
    monkeypatch.setenv("DFOS_ESOREX", str(faked.settings.ESOREX))
    code = main(["--root", str(faked.root), "process-ab", "-a", "P.ab"])  # by hand: one line, exit 3, not "FAILED"
    err = capsys.readouterr().err
    assert code == 3 and err.startswith("Error: P.ab was not run to the end") and len(err.splitlines()) == 1, err
    assert load_ab(faked, "P.ab").process_status is ProcessStatus.CREATED
    monkeypatch.setattr(step, "_place", real)  # space was freed: running it again just works
    again = process_ab(faked, "P.ab")
    assert again.ok, again.message
    assert load_ab(faked, "P.ab").process_status is ProcessStatus.SUCCESSFUL
    assert [p.name for p in _files(product_dir)] == ["r.P_0000.fits", "r.P_0001.fits"]


def test_a_full_disk_while_writing_the_sof_is_one_line_not_a_traceback(
        faked: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    (faked.ab_dir / "P.ab").write_text(render(_ab()))

    def full_disk(*args: object, **kwargs: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", full_disk)
    run = process_ab(faked, "P.ab")
    assert run.failure == "infrastructure" and run.message.startswith("writing the SOF: No space left on device")
    assert "\n" not in run.message
    monkeypatch.undo()
    assert load_ab(faked, "P.ab").process_status is ProcessStatus.CREATED
