"""dfos migrate (issue 19): setup, -I twice copies nothing the second time, -A, conflicts, no FITS but the static
calibrations, job files naming NEW, the database rows, and a DFOS tree imported whose ABs run with real esorex."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from dfos.errors import DfosError, StateError, UsageError
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_job import create_job
from dfos.steps.migrate.dfos_tree import map_ab_text, parse_dfosrc, read_qc1_export
from dfos.steps.migrate.manifest import read_manifest
from dfos.steps.migrate.run import migrate
from dfos.steps.migrate.setup import place_directory, setup
from dfos.steps.migrate.sync import Unit, plan
from dfos.workspace import Workspace, init_workspace, open_workspace
from migrate_trees import EXTRA_AB, OLD_DATA, STRAY, processed_old, qc1_rows, sha, tree_sums, write_dfos_tree
from nights import BIAS, DAG, FLAT, NIGHT

SINCE = NIGHT.replace(day=1)


@pytest.fixture(scope="module")
def old(tmp_path_factory: pytest.TempPathFactory, uves_small_archive: Path) -> Workspace:
    """The small UVES night processed with real esorex (once for the module)."""
    return processed_old(tmp_path_factory.mktemp("migrate-old"), uves_small_archive)


def _new(tmp_path: Path, old: Workspace) -> Path:
    setup(old.root, tmp_path / "new")
    return tmp_path / "new"


def test_incremental_twice_copies_nothing_the_second_time(old: Workspace, tmp_path: Path) -> None:
    new = _new(tmp_path, old)
    first = migrate(old.root, new, everything=False, since=SINCE)
    assert first.files.copied and not first.files.failed and not first.files.conflicts
    assert first.db.inserted > len(qc1_rows(old))  # QC1 rows and those of the other tables
    assert len(qc1_rows(open_workspace(new, env={}))) == len(qc1_rows(old)) > 0
    # the recent set: the night's dated directories, not 2012's; the undated files all
    assert (new / "logs" / "2013-02-12" / "recent.log").is_file()
    assert not (new / "logs" / "2012-06-01").exists()
    assert (new / "monitor" / "DFO_STATUS").read_bytes() == (old.mon_dir / "DFO_STATUS").read_bytes()
    assert (new / "monitor" / "AB_list_CALIB_2013-02-12").is_file() and (new / "AB" / BIAS).is_file()

    second = migrate(old.root, new, everything=False, since=SINCE)
    assert second.files.copied == [] and second.files.bytes == 0
    assert second.files.skipped == len(first.files.copied)
    assert (second.db.inserted, second.db.updated, second.db.conflicts) == (0, 0, [])
    assert "0 files copied" in second.summary()


def test_everything_no_fits_but_static_calibrations_and_job_files_name_new(old: Workspace, tmp_path: Path) -> None:
    new = _new(tmp_path, old)
    report = migrate(old.root, new, everything=True)
    assert not report.files.failed
    fits = sorted(p.relative_to(new) for p in new.rglob("*.fits"))
    assert fits == [Path("calib/GEN/UV_GSTD_std.fits")]  # products, raw frames, archive: not copied
    assert sha(new / fits[0]) == sha(old.root / fits[0])
    assert (new / "logs" / "2012-06-01" / "old.log").is_file()  # -A: every date
    for job in (new / "jobs").iterdir():
        if job.is_file() and not job.name.startswith("."):
            assert str(old.root) not in job.read_text(encoding="utf-8"), job
    assert '--root "$DFOS_ROOT"' in (new / "jobs" / "rawDown_CALIB_2013-02-12").read_text(encoding="utf-8")
    # job files name no root (they find their own): copied byte for byte, nothing to rewrite
    assert sha(new / "jobs" / "JOBS_NIGHT") == sha(old.root / "jobs" / "JOBS_NIGHT")
    assert not any(line.startswith("DFO_JOB_DIR/JOBS_NIGHT") for line in report.files.rewritten)
    # every copy recorded with the checksums of source and copy
    manifest = read_manifest(new / ".migrate" / "manifest")
    for entry in manifest.values():
        key, _, rel = entry.name.partition("/")
        target = new if key == "ROOT" else open_workspace(new, env={}).path(key) if key != "GEN_CALDIR" else \
            new / "calib" / "GEN"
        assert sha(target / rel) == entry.dst_sha256
    assert "\nrewritten (" in (new / ".migrate" / "last_report").read_text(encoding="utf-8")


def test_new_changes_are_kept_as_conflicts_and_old_changes_copied(old: Workspace, tmp_path: Path) -> None:
    new = _new(tmp_path, old)
    migrate(old.root, new, everything=True)
    status_new = new / "monitor" / "DFO_STATUS"
    status_new.write_text(status_new.read_text(encoding="utf-8") + "cal_Certif 2013-02-12 2013-02-14T10:00:00\n",
                          encoding="utf-8")
    changed_old = old.lst_dir / "note.txt"
    changed_old.write_text("first\n", encoding="utf-8")
    try:
        migrate(old.root, new, everything=True)
        changed_old.write_text("second, longer\n", encoding="utf-8")
        old_status = (old.mon_dir / "DFO_STATUS").read_bytes()
        (old.mon_dir / "DFO_STATUS").write_bytes(old_status + b"cal_Certif 2013-02-12 2013-02-14T11:00:00\n")
        report = migrate(old.root, new, everything=True)
    finally:
        changed_old.unlink()
        (old.mon_dir / "DFO_STATUS").write_bytes(old_status)
    assert report.files.copied == ["DFO_LST_DIR/note.txt"]
    assert (new / "lists" / "note.txt").read_text(encoding="utf-8") == "second, longer\n"
    assert [c.split(":")[0] for c in report.files.conflicts] == ["DFO_MON_DIR/DFO_STATUS"]
    assert "2013-02-14T10:00:00" in status_new.read_text(encoding="utf-8")  # NEW's kept


def test_backwards_and_unrelated_pairs_are_refused(old: Workspace, tmp_path: Path) -> None:
    new = _new(tmp_path, old)
    with pytest.raises(UsageError, match=r"refused: .* was set up from"):
        migrate(new, old.root, everything=True)
    other, _ = init_workspace(tmp_path / "other", env={})
    with pytest.raises(StateError, match="not set up from"):
        migrate(old.root, other.root, everything=True)
    with pytest.raises(DfosError, match=r"not set up from|is already a dfos workspace"):
        setup(old.root, other.root)


def test_setup_keeps_directory_names_and_never_shares_silently(tmp_path: Path) -> None:
    old, _ = init_workspace(tmp_path / "old", env={})
    outside = tmp_path / "elsewhere" / "logs"
    toml = old.root / "dfos.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "[directories]", f'[directories]\nDFO_PLT_DIR = "pics"\nDFO_LST_DIR = "{old.root}/my_lists"\n'
                         f'DFO_LOG_DIR = "{outside}"', 1)
        .replace("[processing]", '[processing]\nDB_URL = "postgresql://qc@db/uves"\nSLOTS = 3', 1),
        encoding="utf-8")
    (old.root / "config" / "thresholds.txt").write_text("QC RON < 5\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"DFO_LOG_DIR = .* lies outside OLD: .* --dir"):
        setup(old.root, tmp_path / "new")
    with pytest.raises(UsageError, match="OLD's database"):
        setup(old.root, tmp_path / "new", given={"DFO_LOG_DIR": str(tmp_path / "l")},
              db_url="postgresql://qc@db/uves")
    result = setup(old.root, tmp_path / "new", given={"DFO_LOG_DIR": str(tmp_path / "newlogs")})
    new = open_workspace(tmp_path / "new", env={})
    assert new.path("DFO_PLT_DIR") == new.root / "pics" and new.settings.DFO_PLT_DIR == "pics"
    assert new.path("DFO_LST_DIR") == new.root / "my_lists"
    assert new.path("DFO_LOG_DIR") == tmp_path / "newlogs"
    assert new.settings.SLOTS == 3 and new.settings.DB_URL == ""
    assert any("own SQLite" in line for line in result.lines)
    assert (new.root / "config" / "thresholds.txt").read_text(encoding="utf-8") == "QC RON < 5\n"
    origin = (new.root / ".migrate" / "origin").read_text(encoding="utf-8")
    assert f"ORIGIN_ROOT     {old.root}" in origin and "ORIGIN_KIND     dfos" in origin
    assert place_directory("/a/old/x", Path("/a/old"), Path("/b/new")) == "/b/new/x"
    assert place_directory("x", Path("/a/old"), Path("/b/new")) == "x"
    assert place_directory("/c/x", Path("/a/old"), Path("/b/new")) is None


def test_plan_excludes_temporaries_locks_and_fits(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "GEN").mkdir(parents=True)
    for name in ("a.txt", ".a.txt.host-1.x.part", ".JOBS.lock", "r.fits", "GEN/s.fits", "2013-01-01/x.log",
                 "2012-12-31/y.log", "dfos.sqlite"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text("x", encoding="utf-8")
    units = [Unit("ROOT", src, tmp_path / "dst"), Unit("GEN_CALDIR", src / "GEN", tmp_path / "dst" / "GEN", True)]
    found = sorted(str(c.rel) for c in plan(units, SINCE.replace(month=1), set()))
    assert found == ["2013-01-01/x.log", "a.txt", "s.fits"]


def test_map_ab_text_writes_references_and_lists_the_rest() -> None:
    prefixes = [("/fujisan3/data/uves/raw", "DFO_RAW_DIR"), ("/fujisan3/data/uves/calib", "DFO_CAL_DIR")]
    text = ("# raw /fujisan3/data/uves/raw stays in a comment\n"
            "RAWFILE  /fujisan3/data/uves/raw/2013-02-12/a.fits  BIAS\n"
            "MCALIB  /fujisan3/data/uves/calib/2013-02-10/m.fits  MASTER_BIAS\nMASSOC  /tmp/x.fits  BPM\n")
    new, mapped, unmapped = map_ab_text(text, prefixes)
    assert "RAWFILE  $DFO_RAW_DIR/2013-02-12/a.fits  BIAS" in new
    assert "MCALIB  $DFO_CAL_DIR/2013-02-10/m.fits  MASTER_BIAS  $DFO_CAL_DIR/2013-02-10/m.fits" in new
    assert new.startswith("# raw /fujisan3/data/uves/raw stays")
    assert (mapped, unmapped) == (2, ["/tmp/x.fits"])
    assert parse_dfosrc("export A=/x\nexport B=${A}/y # c\nC='$A/z'\n") == {"A": "/x", "B": "/x/y", "C": "/x/z"}


# -- a DFOS installation tree ------------------------------------------------------------------------------


def test_dfos_tree_imports_reports_unmapped_and_its_abs_run(old: Workspace, tmp_path: Path,
                                                          uves_small_archive: Path) -> None:
    from migrate_trees import link_archive

    tree = write_dfos_tree(old, tmp_path / "dfos_tree")
    before = tree_sums(tree)
    result = setup(tree, tmp_path / "new", instrument="UVES")
    assert result.kind == "DFOS"
    new_root = tmp_path / "new"
    report = migrate(tree, new_root, everything=True)
    assert not report.files.failed
    # its ABs: absolute paths of the old machine written as $DFO_* references
    flat = (new_root / "AB" / FLAT).read_text(encoding="utf-8")
    assert OLD_DATA not in flat and "RAWFILE         $DFO_RAW_DIR/2013-02-12/" in flat
    assert "MCALIB VIRTUAL  $DFO_CAL_DIR/VCAL/2013-02-12/" in flat
    # the AB with a path in no directory of the tree: reported (summary and file), set aside
    assert any(STRAY in line for line in report.files.unmapped)
    assert STRAY in (new_root / ".migrate" / "unmapped_paths").read_text(encoding="utf-8")
    assert not (new_root / "AB" / EXTRA_AB).exists()
    assert (new_root / ".migrate" / "aside" / "DFO_AB_DIR" / EXTRA_AB).is_file()
    assert "1 unmapped paths" in report.summary()
    # DFO_STATUS: its flags (not the disk value line); headers; QC1 rows (the bad line refused)
    status = (new_root / "monitor" / "DFO_STATUS").read_text(encoding="utf-8")
    assert "cal_QC 2013-02-12" in status and "HDR" not in status
    assert len(list((new_root / "headers" / "2013-02-12").glob("*.hdr"))) == len(
        list((old.hdr_dir / "2013-02-12").glob("*.hdr")))
    new = open_workspace(new_root, env={})
    assert {(r["ab"], r["name"], r["text"]) for r in qc1_rows(new)} == {
        (r["ab"], r["name"], r["text"]) for r in qc1_rows(old)}
    assert len(report.refused_rows) == 1 and "2013-02-30" in report.refused_rows[0]
    again = migrate(tree, new_root, everything=True)
    assert again.files.copied == [] and again.db.inserted == 0

    # the imported ABs run in the new workspace, raw frames fetched from its archive, with real esorex
    link_archive(uves_small_archive, new.archive_dir)
    new = open_workspace(new_root, env={"DFOS_NOW": "2013-02-14T10:00:00"})
    create_job(new, NIGHT, "CALIB")
    assert exec_cascade(new, DAG, new.job_dir / f"execAB_{DAG}", slots=2).ok
    assert list((new_root / "products" / "FLAT_BLUE" / "2013-02-12").glob("*.fits"))
    assert tree_sums(tree) == before  # the tree was only read


def test_qc1_export_needs_its_columns(tmp_path: Path) -> None:
    export = tmp_path / "x.csv"
    export.write_text("date,ab,value\n2013-02-12,a.ab,1\n", encoding="utf-8")
    rows, refused = read_qc1_export(export, "UVES")
    assert rows == [] and "no column 'parameter'" in refused[0]


def test_rows_upserted_once_updated_from_old_and_new_changes_kept(tmp_path: Path, db_url: str) -> None:
    from sqlalchemy import update

    from dfos.db import engine_for_url, qc1_params
    from dfos.steps.migrate.database import DbReport, upsert_rows

    ws, _ = init_workspace(tmp_path / "new", env={})
    ws = open_workspace(ws.root, env={"DFOS_DB_URL": db_url} if db_url else {})
    engine, manifest = engine_for_url(ws.db_url), tmp_path / "db_manifest"
    export = tmp_path / "qc1.csv"

    def run(values: tuple[str, str]) -> DbReport:
        export.write_text("date,ab,parameter,value\n" + "".join(f"2013-02-12,{ab}.ab,QC RON,{v}\n" for ab, v in
                                                                  zip(("a", "b"), values, strict=True)),
                          encoding="utf-8")
        os.utime(export, (0, 0))
        rows, refused = read_qc1_export(export, "UVES")
        assert not refused
        report = DbReport()
        upsert_rows(engine, "qc1_params", rows, manifest, report)
        return report

    assert run(("1.5", "2.5")).inserted == 2
    second = run(("1.5", "2.5"))
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 2)
    assert run(("1.7", "2.5")).updated == 1  # OLD changed a row NEW had not touched
    with engine.begin() as conn:  # NEW measures b again itself
        conn.execute(update(qc1_params).where(qc1_params.c.ab == "b.ab").values(value=9.0, text="9.0"))
    fourth = run(("1.7", "2.9"))
    assert fourth.updated == 0 and len(fourth.conflicts) == 1 and "b.ab" in fourth.conflicts[0]
    with engine.connect() as conn:
        assert conn.execute(select(qc1_params.c.value).where(qc1_params.c.ab == "b.ab")).scalar_one() == 9.0
