"""createAB on the synthetic UVES night: the ABs, the cascade, incremental runs, explanations."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dfos.ab.format import parse
from dfos.ab.lists import read_ab_list
from dfos.ab.model import AB, Completeness, ProcessStatus
from dfos.errors import DfosError
from dfos.steps.create_ab import create_abs, explain_text
from dfos.steps.headers import extract_headers
from dfos.steps.process_ab import load_ab, set_process_status
from dfos.workspace import Workspace, open_workspace
from nights import BIAS, DARK, FLAT, NIGHT, ORDERPOS, RED_BIAS

ARCS = ["UVES.2013-02-12T22:02:00.500_frm.ab", "UVES.2013-02-12T22:03:23.500_frm.ab"]
SCIENCE = ["UVES.2013-02-13T01:30:00.500_frm.ab", "UVES.2013-02-13T02:01:08.500_frm.ab"]


@pytest.fixture
def night(uves_night: Workspace) -> Workspace:
    extract_headers(uves_night, NIGHT)
    return open_workspace(uves_night.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})


def by_name(abs_: tuple[AB, ...]) -> dict[str, AB]:
    return {ab.name: ab for ab in abs_}


def test_the_uves_night_makes_the_expected_cascade(night: Workspace) -> None:
    calib = by_name(create_abs(night, NIGHT, "CALIB").abs)
    assert list(calib) == [BIAS, RED_BIAS, DARK, ORDERPOS, FLAT, *ARCS]
    assert [calib[n].recipe for n in (BIAS, RED_BIAS, DARK, ORDERPOS, FLAT)] == [
        "uves_cal_mbias", "uves_cal_mbias", "uves_cal_mdark", "uves_cal_orderpos", "uves_cal_mflat"]
    for name in (BIAS, RED_BIAS, DARK, ORDERPOS, FLAT):
        assert calib[name].completeness is Completeness.COMPLETE, calib[name].missing
    # the cascade: bias -> dark -> flat and orderpos -> flat
    assert calib[DARK].waitfor == (BIAS,)
    assert calib[FLAT].waitfor == (BIAS, DARK, ORDERPOS)
    assert calib[BIAS].waitfor == calib[ORDERPOS].waitfor == ()
    tags = [(c.tag, c.virtual) for c in calib[FLAT].mcalib]
    assert tags == [("MASTER_BIAS_BLUE", True), ("ORDER_TABLE_BLUE", True)] or tags == [
        ("MASTER_BIAS_BLUE", True), ("MASTER_DARK_BLUE", True), ("ORDER_TABLE_BLUE", True)]
    assert [p.catg for p in calib[FLAT].products] == ["MASTER_FLAT_BLUE", "BKG_FLAT_BLUE"]
    assert [p.catg for p in calib[RED_BIAS].products] == ["MASTER_BIAS_REDL", "MASTER_BIAS_REDU"]
    for arc in ARCS:  # arcs lack the static line tables
        assert calib[arc].completeness is Completeness.INCOMPLETE
        assert any(reason.startswith("LINE_REFER_TABLE: 0 of 1 required") for reason in calib[arc].missing)
    vcal = sorted(p.name for p in (night.vcal_dir / "2013-02-12").glob("*.hdr"))
    assert vcal == sorted(f"{p.name.removesuffix('.fits')}.hdr" for n in (BIAS, RED_BIAS, DARK, ORDERPOS, FLAT)
                          for p in calib[n].products)
    science = by_name(create_abs(night, NIGHT, "SCIENCE").abs)
    assert list(science) == SCIENCE
    for name in SCIENCE:  # the night's calibrations are virtual inputs; the line table cannot exist
        ab = science[name]
        assert ab.completeness is Completeness.INCOMPLETE
        assert [m.split(":")[0] for m in ab.missing] == ["LINE_TABLE_BLUE"]
        assert set(ab.waitfor) == {BIAS, ORDERPOS, FLAT}


def test_files_of_a_run(night: Workspace) -> None:
    result = create_abs(night, NIGHT, "CALIB")
    entries = read_ab_list(night.mon_dir / "AB_list_CALIB_2013-02-12")
    assert [(e.name, e.completeness) for e in entries] == [(ab.name, ab.completeness.value) for ab in result.abs]
    assert (night.mon_dir / "LAST_AB").read_text().strip() == ARCS[-1]
    assert night.status_log.read()[-1].flag == "cal_AB"
    text = (night.ab_dir / FLAT).read_text()
    assert parse(text) == by_name(result.abs)[FLAT]  # the file reads back to the same AB
    log = (night.mon_dir / "assoc_CALIB_2013-02-12.log").read_text()
    assert "INCOMPLETE UVES.2013-02-12T22:02:00.500_frm.ab: LINE_GUESS_TAB_BLUE" in log


def test_running_twice_gives_identical_files(night: Workspace) -> None:
    create_abs(night, NIGHT, "CALIB")
    before = {p.name: p.read_bytes() for p in night.ab_dir.iterdir()}
    again = create_abs(night, NIGHT, "CALIB")
    assert again.written == () and len(again.unchanged) == 7
    assert {p.name: p.read_bytes() for p in night.ab_dir.iterdir()} == before


def test_a_master_from_an_earlier_date_serves_a_night_without_bias(night: Workspace, tmp_path: Path) -> None:
    # a certified master bias two days earlier, another one ten days earlier, and no bias in the night
    create_abs(night, NIGHT, "CALIB")
    vcal = night.vcal_dir / "2013-02-12" / "r.UVES.2013-02-12T18:05:00.500_tpl_0000.hdr"
    for day, name in (("2013-02-10", "UV_MBIA_130210A_BLUE.hdr"), ("2013-02-02", "UV_MBIA_130202A_BLUE.hdr")):
        target = night.mcal_dir / day / name
        target.parent.mkdir(parents=True)
        text = vcal.read_text().replace("2013-02-12T18:05:00.500", f"{day}T18:05:00.500")
        mjd = "56333." if day.endswith("10") else "56325."  # two and ten days before the night
        target.write_text(text.replace("MJD-OBS =       56335.", f"MJD-OBS =       {mjd}"))
    shutil.rmtree(night.vcal_dir)
    for hdr in (night.hdr_dir / "2013-02-12").glob("UVES.2013-02-12T18:0*.hdr"):
        hdr.unlink()  # the blue bias template did not happen
    abs_ = by_name(create_abs(night, NIGHT, "CALIB").abs)
    assert BIAS not in abs_
    dark = abs_[DARK]
    assert dark.completeness is Completeness.COMPLETE
    assert dark.waitfor == ()
    (bias,) = dark.mcalib
    assert (bias.virtual, bias.ref) == (False, "$DFO_CAL_DIR/MCAL/2013-02-10/UV_MBIA_130210A_BLUE.hdr")
    assert bias.sof_path == "$DFO_CAL_DIR/2013-02-10/UV_MBIA_130210A_BLUE.fits"
    assert bias.level == 1  # two days away: not within 1 day, within 7
    text = explain_text(night, DARK)
    assert "+ taken    UV_MBIA_130210A_BLUE.fits: closest: 2." in text
    assert "quality level 1 (within 7 days)" in text


def test_done_abs_are_never_touched(night: Workspace) -> None:
    create_abs(night, NIGHT, "CALIB")
    ab_list = night.mon_dir / "AB_list_CALIB_2013-02-12"
    ab_list.write_text(ab_list.read_text().replace(f"{BIAS}  BIAS_BLUE  uves_cal_mbias  COMPLETE",
                                                   f"{BIAS}  BIAS_BLUE  uves_cal_mbias  COMPLETE  DONE"))
    done = night.ab_dir / BIAS
    set_process_status(night, load_ab(night, BIAS), ProcessStatus.SUCCESSFUL)
    before = done.read_bytes()
    failed = night.ab_dir / DARK
    set_process_status(night, load_ab(night, DARK), ProcessStatus.FAILED)
    succeeded = night.ab_dir / ORDERPOS
    set_process_status(night, load_ab(night, ORDERPOS), ProcessStatus.SUCCESSFUL)
    result = create_abs(night, NIGHT, "CALIB")
    assert result.kept_done == (BIAS,)
    assert ORDERPOS in result.unchanged and "PROCESS_STATUS  SUCCESSFUL" in succeeded.read_text()
    assert done.read_bytes() == before
    assert DARK in result.written and "PROCESS_STATUS  CREATED" in failed.read_text()  # failed: re-created
    assert [e.name for e in read_ab_list(ab_list) if e.done] == [BIAS]


def test_a_growing_night(night: Workspace) -> None:
    headers = night.hdr_dir / "2013-02-12"
    late = sorted(headers.glob("UVES.2013-02-12T21:5[3-9]*.hdr"))  # 4 of the 5 flats arrive later
    parked = night.root / "parked"
    parked.mkdir()
    for path in late:
        path.rename(parked / path.name)
    first = by_name(create_abs(night, NIGHT, "CALIB").abs)
    assert first[FLAT].completeness is Completeness.INCOMPLETE
    assert "template incomplete: 1 of 5 frames (TPL.NEXP)" in first[FLAT].missing
    for path in parked.iterdir():
        path.rename(headers / path.name)
    second = create_abs(night, NIGHT, "CALIB")
    assert second.written == (FLAT,)
    assert by_name(second.abs)[FLAT].completeness is Completeness.COMPLETE


def test_unreadable_headers_do_not_stop_the_night(night: Workspace) -> None:
    (night.hdr_dir / "2013-02-12" / "UVES.2013-02-12T23:00:00.000.hdr").write_text("garbage\n")
    result = create_abs(night, NIGHT, "CALIB")
    assert len(result.abs) == 7
    assert [name for name, _ in result.problems] == ["UVES.2013-02-12T23:00:00.000.hdr"]
    assert "UNREADABLE UVES.2013-02-12T23:00:00.000.hdr" in (night.mon_dir / "assoc_CALIB_2013-02-12.log").read_text()


def test_orphans_are_logged_with_a_reason(night: Workspace) -> None:
    hdr = night.hdr_dir / "2013-02-12" / "UVES.2013-02-12T22:02:00.500.hdr"
    hdr.write_text(hdr.read_text().replace("'LAMP,WAVE'", "'LAMP,ODD '"))
    result = create_abs(night, NIGHT, "CALIB")
    assert result.orphans == (("UVES.2013-02-12T22:02:00.500.fits",
                               "no classification rule matches it (no DO.CATG or REFLEX.CATG)"),)


def test_no_headers_is_an_operator_error(workspace: Workspace) -> None:
    with pytest.raises(DfosError, match="extract them first with 'dfos headers -d 2013-02-12'"):
        create_abs(workspace, NIGHT, "CALIB")


def test_eso_rules_plus_product_map(night: Workspace) -> None:
    import glob

    eso = glob.glob("/usr/share/cpl-plugins/uves-*/gasgano/config/uves.oca")[0]
    from dfos.instruments.uves import Uves

    product_map = Uves().rules_files()[0].with_name("uves.products.oca")
    ws = open_workspace(night.root, env={"DFOS_OCA_RULES": f"{eso}:{product_map}"})
    abs_ = by_name(create_abs(ws, NIGHT, "CALIB").abs)
    assert abs_[DARK].recipe == "uves_cal_mdark"
    assert abs_[DARK].waitfor == (BIAS,)  # ESO's association finds the virtual master bias of the night


@pytest.fixture(scope="module")
def night_headers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dfos.steps.demo_data import generate_night
    from dfos.workspace import init_workspace

    ws, _ = init_workspace(tmp_path_factory.mktemp("growing") / "ws", env={}, instrument="UVES")
    generate_night(ws, NIGHT, small=True)
    return extract_headers(ws, NIGHT).header_dir


def _workspace_with(headers: list[Path]) -> Workspace:
    import tempfile

    from dfos.workspace import init_workspace

    ws, _ = init_workspace(Path(tempfile.mkdtemp(prefix="dfos-prop-")) / "ws", env={"DFOS_NOW": "2013-02-13T14:00:00"})
    target = ws.hdr_dir / "2013-02-12"
    target.mkdir(parents=True)
    for path in headers:
        shutil.copy(path, target / path.name)
    return ws


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=8, deadline=None)
@given(st.data())
def test_adding_frames_never_changes_done_abs(night_headers: Path, data: st.DataObject) -> None:
    everything = sorted(night_headers.glob("*.hdr"))
    early = data.draw(st.lists(st.sampled_from(everything), min_size=1, unique=True))
    ws = _workspace_with(early)
    try:
        first = create_abs(ws, NIGHT, "CALIB")
        ab_list = ws.mon_dir / "AB_list_CALIB_2013-02-12"
        ab_list.write_text("".join(line + "  DONE\n" for line in ab_list.read_text().splitlines()))
        before = {ab.name: (ws.ab_dir / ab.name).read_bytes() for ab in first.abs}
        for path in everything:
            shutil.copy(path, ws.hdr_dir / "2013-02-12" / path.name)
        second = create_abs(ws, NIGHT, "CALIB")
        assert set(second.kept_done) == set(before)
        assert {name: (ws.ab_dir / name).read_bytes() for name in before} == before
        assert {e.name for e in read_ab_list(ab_list) if e.done} == set(before)
        files = {p: p.read_bytes() for p in sorted(ws.root.rglob("*")) if p.is_file() and "DFO_STATUS" not in p.name}
        again = create_abs(ws, NIGHT, "CALIB")  # and running it again changes no byte of any file
        assert again.written == ()
        assert {p: p.read_bytes() for p in files} == files
    finally:
        shutil.rmtree(ws.root.parent)


def _tag_done(ws: Workspace, *names: str) -> None:
    ab_list = ws.mon_dir / "AB_list_CALIB_2013-02-12"
    lines = [line + ("  DONE" if line.split()[0] in names else "") for line in ab_list.read_text().splitlines()]
    ab_list.write_text("".join(line + "\n" for line in lines))


def test_a_done_ab_keeps_serving_its_children(night: Workspace) -> None:
    create_abs(night, NIGHT, "CALIB")
    _tag_done(night, BIAS)
    vcal = night.vcal_dir / "2013-02-12" / "r.UVES.2013-02-12T18:05:00.500_tpl_0000.hdr"
    before = vcal.read_bytes()
    # one of its frames disappears and another's header changes: the DONE AB stands as it is
    (night.hdr_dir / "2013-02-12" / "UVES.2013-02-12T18:09:32.500.hdr").unlink()
    first = night.hdr_dir / "2013-02-12" / "UVES.2013-02-12T18:05:00.500.hdr"
    first.write_text(first.read_text().replace("INS PIXSCALE = 0.246", "INS PIXSCALE = 0.250"))
    result = create_abs(night, NIGHT, "CALIB")
    abs_ = by_name(result.abs)
    assert result.kept_done == (BIAS,)
    assert [ab.name for ab in result.abs].count(BIAS) == 1 and len(result.abs) == 7  # no second bias AB
    assert abs_[DARK].completeness is Completeness.COMPLETE and abs_[DARK].waitfor == (BIAS,)
    assert abs_[FLAT].completeness is Completeness.COMPLETE
    assert vcal.read_bytes() == before


def test_bad_headers_are_reported_and_skipped(night: Workspace) -> None:
    folder = night.hdr_dir / "2013-02-12"
    dark = folder / "UVES.2013-02-12T20:42:16.500.hdr"
    dark.write_text(dark.read_text().replace("MJD-OBS =", "MJD-BAD ="))
    flat = folder / "UVES.2013-02-12T21:57:12.500.hdr"
    flat.write_text(flat.read_text().replace("INSTRUME= 'UVES    '", "INSTRUME= 'GIRAFFE '"))
    result = create_abs(night, NIGHT, "CALIB")
    problems = dict(result.problems)
    assert problems[dark.name].startswith("MJD-OBS is missing, not a number")
    assert problems[flat.name] == "INSTRUME is 'GIRAFFE', this workspace is for UVES"
    abs_ = by_name(result.abs)
    assert "template incomplete: 2 of 3 frames (TPL.NEXP)" in abs_[DARK].missing
    log = (night.mon_dir / "assoc_CALIB_2013-02-12.log").read_text()
    assert f"UNREADABLE {dark.name}: MJD-OBS is missing" in log


def test_two_runs_at_once_both_succeed(night: Workspace) -> None:
    import subprocess
    import sys

    script = ("import sys; from datetime import date; from dfos.workspace import open_workspace; "
              "from dfos.steps.create_ab import create_abs; "
              "create_abs(open_workspace(None, {'DFOS_ROOT': sys.argv[1]}), date(2013, 2, 12), 'CALIB')")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(night.root)]) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert len(read_ab_list(night.mon_dir / "AB_list_CALIB_2013-02-12")) == 7
    assert [line.flag for line in night.status_log.read()].count("cal_AB") == 3


def _outside_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _set_card(path: Path, key: str, value: str) -> None:
    """Replace the card ``key`` of a .hdr file by ``key = value`` (one 80-character line)."""
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"{key:<8}="))
    lines[at] = f"{key:<8}= {value}".ljust(80)
    path.write_text("\n".join(lines) + "\n")


def test_a_header_whose_arcfile_is_a_path_is_refused_and_the_date_goes_on(night: Workspace, tmp_path: Path) -> None:
    import os

    from dfos.steps.create_job import create_job

    outside = tmp_path / "outside"
    outside.mkdir()
    folder = night.hdr_dir / "2013-02-12"
    bias = folder / "UVES.2013-02-12T18:05:00.500.hdr"  # the first bias: it names the bias AB
    escape = os.path.relpath(outside, night.ab_dir) + "/pwn.fits"
    _set_card(bias, "ARCFILE", f"'{escape}'")
    etc = folder / "UVES.2013-02-12T20:42:16.500.hdr"
    _set_card(etc, "ARCFILE", "'../../../../etc/passwd'")
    result = create_abs(night, NIGHT, "CALIB")
    refused = dict(result.refused)
    assert set(refused) == {bias.name, etc.name}
    assert "ARCFILE" in refused[etc.name] and "not a safe file name" in refused[etc.name]
    assert _outside_files(outside) == [] and not Path("/etc/passwd_tpl.ab").exists()
    assert all(p.resolve().parent == night.ab_dir.resolve() for p in night.ab_dir.glob("*.ab"))
    log = (night.mon_dir / "assoc_CALIB_2013-02-12.log").read_text()
    assert f"REFUSED {etc.name}: ARCFILE" in log
    assert len(result.abs) >= 5 and FLAT in {ab.name for ab in result.abs}
    create_job(night, NIGHT, "CALIB")  # the date can be queued


def test_an_unsafe_raw_type_from_the_rules_refuses_only_its_ab(night: Workspace, tmp_path: Path) -> None:
    from dfos.instruments.uves import Uves

    rules = tmp_path / "evil.oca"
    rules.write_text('if DPR.TYPE == "BIAS" and INS.PATH == "BLUE" then { RAW.TYPE = "../../../evil"; }\n')
    own = Uves().rules_files()[0]
    evil = open_workspace(night.root, env={"DFOS_OCA_RULES": f"{own}:{rules}"})
    result = create_abs(evil, NIGHT, "CALIB")
    refused = dict(result.refused)
    assert "RAW_TYPE" in refused[BIAS]
    # the ABs that would read the refused AB's products through that path are refused with it, nothing else
    assert all("MCALIB" in why for name, why in refused.items() if name != BIAS)
    assert BIAS not in {ab.name for ab in result.abs} and not (night.ab_dir / BIAS).exists()
    assert "evil" not in "".join(p.read_text() for p in night.vcal_dir.rglob("*.hdr"))
    assert {ab.name for ab in result.abs} | set(refused) == {ab.name for ab in create_abs(night, NIGHT, "CALIB").abs}


def test_absurd_numbers_refuse_the_frame_naming_the_keyword(night: Workspace) -> None:
    folder = night.hdr_dir / "2013-02-12"
    dark = folder / "UVES.2013-02-12T20:42:16.500.hdr"
    _set_card(dark, "EXPTIME", "1.0E308")
    nan = folder / "UVES.2013-02-12T21:57:12.500.hdr"
    _set_card(nan, "EXPTIME", "NaN")
    huge = folder / "UVES.2013-02-12T22:02:00.500.hdr"
    huge.write_text(huge.read_text().replace("END", "LONG    = '" + "x" * 100_000 + "'\nEND"))
    result = create_abs(night, NIGHT, "CALIB")
    problems = dict(result.problems)
    assert problems[dark.name].startswith("EXPTIME is 1e+308, outside 0..86400")
    assert "EXPTIME" in problems[nan.name] and str(nan) in problems[nan.name]
    assert "100012 characters" in problems[huge.name]
    assert all(ab.mjd_obs_mod < 100_000 for ab in result.abs)
    assert len(result.abs) == 6  # the arc's own AB is gone, every other AB is made


def test_a_big_header_is_written_once_not_card_by_card(night: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from astropy.io import fits

    from dfos.headers.io import read_header

    bias = night.hdr_dir / "2013-02-12" / "UVES.2013-02-12T18:05:00.500.hdr"
    extra = "".join(f"HIERARCH ESO XTRA K{i} = {i}".ljust(80) + "\n" for i in range(30_000))
    bias.write_text(bias.read_text().replace("END", extra + "END"))
    moves: list[int] = []
    update = fits.Header._updateindices

    def counted(self: fits.Header, *args: object) -> None:
        moves.append(1)
        update(self, *args)

    monkeypatch.setattr(fits.Header, "_updateindices", counted)
    result = create_abs(night, NIGHT, "CALIB")
    assert moves == []  # inserting a card in the middle reindexes every card after it: quadratic
    product = by_name(result.abs)[BIAS].products[0].name.removesuffix(".fits")
    vcal = read_header(night.vcal_dir / "2013-02-12" / f"{product}.hdr")
    assert vcal["XTRA.K29999"] == 29_999 and str(vcal["DFOS.FILE"]).endswith(f"{product}.fits")
    assert len(vcal) > 30_000


def test_an_ab_list_that_is_not_utf8_or_names_a_path_is_a_format_error(tmp_path: Path) -> None:
    from dfos.errors import FormatError, UnsafeName

    path = tmp_path / "AB_list_CALIB_2013-02-12"
    path.write_bytes(b"A.ab  BIAS  uves_cal_mbias  COMPLETE\nB\xff.ab  X  r  COMPLETE\n")
    with pytest.raises(FormatError, match=f"{path}:2: byte 0xff at offset 38 is not UTF-8"):
        read_ab_list(path)
    path.write_text("A.ab  BIAS  r  COMPLETE\n../../etc/passwd  X  r  COMPLETE  DONE\n")
    with pytest.raises(UnsafeName, match=f"AB name in {path}:2"):
        read_ab_list(path)
    path.write_text("# comment\nA.ab  BIAS  r  COMPLETE  DONE\nB.ab  X  r  INCOMPLETE\n")
    assert [(e.name, e.done) for e in read_ab_list(path)] == [("A.ab", True), ("B.ab", False)]
    for cut in ("B.ab\n", "B.ab  X  r  COMPL\n", "B.ab  X  r  COMPLETE  DO\n", "B  X  r  COMPLETE\n"):
        path.write_text(f"A.ab  BIAS  r  COMPLETE  DONE\n{cut}")  # a line cut short is never guessed at
        with pytest.raises(FormatError, match=f"{path}:2: not '<AB>.ab"):
            read_ab_list(path)
