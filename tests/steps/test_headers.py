"""Header intake: .hdr files, list_hdr, fits_Requested once, broken templates, bad dates."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pytest

from dfos.archive.local import LocalArchive
from dfos.errors import DfosError
from dfos.headers.io import read_header
from dfos.instruments.uves import Uves
from dfos.steps.create_ab import create_abs
from dfos.steps.headers import extract_headers
from dfos.synth.plan import Signal, Template, expand
from dfos.synth.render import render_frame
from dfos.workspace import Workspace, open_workspace

NIGHT = date(2013, 2, 12)


def test_every_frame_gets_a_header_file(uves_night: Workspace) -> None:
    seen: list[tuple[int, int]] = []
    intake = extract_headers(uves_night, NIGHT, progress=lambda done, total: seen.append((done, total)))
    archive = sorted(p.name for p in (uves_night.archive_dir).rglob("*.fits"))
    assert list(intake.frames) == archive
    assert intake.written == len(archive) == 23
    assert seen[-1] == (23, 23)
    for name in archive:
        hdr = uves_night.hdr_dir / "2013-02-12" / (name.removesuffix(".fits") + ".hdr")
        lines = hdr.read_text().splitlines()
        assert all(len(line) == 80 for line in lines)
        assert lines[-1].rstrip() == "END"
        fits_path = LocalArchive(uves_night.archive_dir).store_path(name)
        assert read_header(hdr) == read_header(fits_path)  # .hdr and .fits read alike
    listing = (uves_night.mon_dir / "list_hdr_2013-02-12").read_text().splitlines()
    assert listing == archive
    assert (uves_night.raw_dir / "2013-02-12").is_dir()


def test_fits_requested_only_the_first_time(uves_night: Workspace) -> None:
    first = extract_headers(uves_night, NIGHT)
    second = extract_headers(uves_night, NIGHT)
    assert first.first_time and not second.first_time
    assert (second.written, second.unchanged) == (0, 23)
    flags = [line.flag for line in uves_night.status_log.read()]
    assert flags == ["fits_Requested"]


def test_changed_header_is_rewritten(uves_night: Workspace) -> None:
    extract_headers(uves_night, NIGHT)
    hdr = next((uves_night.hdr_dir / "2013-02-12").glob("*.hdr"))
    hdr.write_text("SIMPLE  =                    T\nEND\n")
    again = extract_headers(uves_night, NIGHT)
    assert again.written == 1
    assert "HIERARCH ESO DPR CATG" in hdr.read_text()


def test_no_frames_is_an_operator_error(uves_night: Workspace) -> None:
    with pytest.raises(DfosError, match="no UVES frames of 2013-03-01 in the archive"):
        extract_headers(uves_night, date(2013, 3, 1))
    assert not (uves_night.raw_dir / "2013-03-01").exists()


def _write_template(ws: Workspace, start: datetime, n: int, exptime: float) -> list[str]:
    plugin = Uves()
    arms = plugin.arms(small=True)
    template = Template("DARK_BLUE", "BLUE", ("CALIB", "DARK", "IMAGE"), Signal.DARK, start, n, exptime,
                        "UVES_blue_cal_dark", 200999001)
    names = []
    for frame in expand([template], plugin.file_prefix):
        path = LocalArchive(ws.archive_dir).store_path(frame.name.render())
        path.parent.mkdir(parents=True, exist_ok=True)
        render_frame(frame, arms["BLUE"], "UVES", plugin.telescope, seed=1).writeto(path)
        names.append(frame.name.render())
    return names


def test_broken_template_moves_to_the_next_date(workspace: Workspace) -> None:
    # 3 darks of 300 s from 11:50 UT: the template straddles the 12:00 boundary
    broken = _write_template(workspace, datetime(2013, 2, 13, 11, 50, 0, 500000), 3, 300.0)
    before = _write_template(workspace, datetime(2013, 2, 13, 9, 0, 0, 500000), 2, 60.0)
    assert [n[16:24] for n in broken] == ["11:50:00", "11:56:08", "12:02:16"]
    assert set(extract_headers(workspace, date(2013, 2, 12)).frames) == set(before)
    assert set(extract_headers(workspace, date(2013, 2, 13)).frames) == set(broken)


def test_a_template_completed_later_takes_its_headers_along(workspace: Workspace) -> None:
    early = _write_template(workspace, datetime(2013, 2, 13, 11, 50, 0, 500000), 1, 300.0)
    assert extract_headers(workspace, date(2013, 2, 12)).frames == tuple(early)
    # the rest of the template arrives after the boundary: the first frame now belongs to the 13th
    for path in workspace.archive_dir.rglob("*.fits"):
        path.unlink()
    _write_template(workspace, datetime(2013, 2, 13, 11, 50, 0, 500000), 3, 300.0)
    _write_template(workspace, datetime(2013, 2, 13, 9, 0, 0, 500000), 1, 60.0)
    extract_headers(workspace, date(2013, 2, 12))
    left = sorted(p.name for p in (workspace.hdr_dir / "2013-02-12").glob("*.hdr"))
    assert left == ["UVES.2013-02-13T09:00:00.500.hdr"]


def test_unreadable_frames_are_reported_and_the_rest_goes_on(uves_night: Workspace) -> None:
    victim = next(uves_night.archive_dir.rglob("UVES.2013-02-12T18:40:00.500.fits"))
    victim.unlink()
    victim.write_bytes(b"this is not FITS")
    intake = extract_headers(uves_night, NIGHT)
    assert len(intake.frames) == 22
    assert [name for name, _ in intake.problems] == [victim.name]
    assert not (uves_night.hdr_dir / "2013-02-12" / "UVES.2013-02-12T18:40:00.500.hdr").exists()


def test_other_instruments_frames_are_ignored(uves_night: Workspace) -> None:
    from dfos.steps.demo_data import generate_night

    generate_night(uves_night, NIGHT, instrument="GIRAFFE", small=True)
    intake = extract_headers(uves_night, NIGHT)
    assert len(intake.frames) == 23 and all(name.startswith("UVES.") for name in intake.frames)


def test_offset_changes_the_boundary(workspace: Workspace) -> None:
    names = _write_template(workspace, datetime(2013, 2, 13, 11, 0, 0, 500000), 1, 60.0)
    shifted = open_workspace(workspace.root, env={"DFOS_DFO_OFFSET": "-2"})  # boundary at 10:00 UT
    assert extract_headers(shifted, date(2013, 2, 13)).frames == tuple(names)
    with pytest.raises(DfosError):
        extract_headers(shifted, date(2013, 2, 12))


def test_header_files_land_in_the_configured_directory(uves_night: Workspace, tmp_path: Path) -> None:
    moved = open_workspace(uves_night.root, env={"DFOS_DFO_HDR_DIR": str(tmp_path / "hdr")})
    extract_headers(moved, NIGHT)
    assert len(list((tmp_path / "hdr" / "2013-02-12").glob("*.hdr"))) == 23


def _rewrite(ws: Workspace, name: str, **cards: object) -> Path:
    """Replace an archive frame (hard-linked from the shared night) by a copy with some cards changed."""
    from astropy.io import fits

    path = next(ws.archive_dir.rglob(name))
    with fits.open(path, memmap=False) as hdul:
        copy = fits.HDUList([hdu.copy() for hdu in hdul])  # read before the link is removed
    path.unlink()
    for key, value in cards.items():
        copy[0].header[key] = value
    copy.writeto(path, output_verify="ignore")
    return path


def test_a_frame_whose_arcfile_is_a_path_is_refused_and_listed(uves_night: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    escape = os.path.relpath(outside, uves_night.ab_dir) + "/pwn"
    victim = "UVES.2013-02-12T18:40:00.500.fits"
    _rewrite(uves_night, victim, ARCFILE=escape)
    intake = extract_headers(uves_night, NIGHT)
    assert victim not in intake.frames and len(intake.frames) == 22
    (name, reason), = intake.problems
    assert name == victim and "ARCFILE" in reason and "not a safe file name" in reason
    assert not (uves_night.hdr_dir / "2013-02-12" / "UVES.2013-02-12T18:40:00.500.hdr").exists()
    assert f"REFUSED {victim}: ARCFILE" in (uves_night.mon_dir / "headers_2013-02-12.log").read_text()
    # the rest of the date goes on: its ABs are made, nothing lands outside the workspace
    result = create_abs(uves_night, NIGHT, "CALIB")
    assert result.abs and not outside.exists()
    assert all(p.resolve().is_relative_to(uves_night.root.resolve()) for p in uves_night.ab_dir.iterdir())


def test_a_card_astropy_cannot_parse_refuses_only_its_frame(uves_night: Workspace) -> None:
    from astropy.io import fits

    victim = "UVES.2013-02-12T18:40:00.500.fits"
    path = next(uves_night.archive_dir.rglob(victim))
    data = bytearray(path.read_bytes())
    at = data.index(b"EXPTIME =")
    data[at : at + 80] = b"EXPTIME = NaN".ljust(80)  # what an editor can write; astropy refuses to read it
    path.unlink()
    path.write_bytes(bytes(data))
    with pytest.raises(fits.verify.VerifyError):
        _ = fits.getheader(path)["EXPTIME"]
    intake = extract_headers(uves_night, NIGHT)
    assert len(intake.frames) == 22
    assert [(n, "EXPTIME" in why) for n, why in intake.problems] == [(victim, True)]


def test_no_frames_exits_2_from_the_command_line(uves_night: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from dfos.cli.main import main

    code = main(["--root", str(uves_night.root), "headers", "-d", "2013-03-01"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("Error: no UVES frames of 2013-03-01") and len(err.splitlines()) == 1


def test_the_command_lists_refused_frames(uves_night: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from dfos.cli.main import main

    victim = "UVES.2013-02-12T18:40:00.500.fits"
    _rewrite(uves_night, victim, ARCFILE="../../../../etc/passwd")
    code = main(["--root", str(uves_night.root), "headers", "-d", "2013-02-12"])
    out, err = capsys.readouterr()
    assert code == 0
    assert f"1 frame(s) refused: {victim}" in out
    assert err.startswith(f"Warning: {victim}: refused: ARCFILE") and len(err.splitlines()) == 1
