"""updateAB's replacement of virtual inputs by the certified masters that took their place (pure)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dfos.ab.model import CalibInput
from dfos.steps.update_ab import certified_input, uses_masters, with_masters
from malformed import sample_ab

ROOT = Path("/ws")
BIAS = "r.UVES.2013-02-12T18:05:00.500_tpl_0000"
MASTER = ROOT / "calib" / "2013-02-12" / "UV_MBIA_130212A_BLUE.fits"
MASTERS = {ROOT / "products" / "BIAS_BLUE" / "2013-02-12" / f"{BIAS}.fits": MASTER}


def expand(ref: str) -> Path:
    for name, value in (("$DFS_PRODUCT", "products"), ("$DFO_CAL_DIR", "calib"), ("$DFO_RAW_DIR", "raw")):
        if ref.startswith(name):
            return ROOT / (value + ref[len(name):])
    return Path(ref)


def test_a_virtual_input_becomes_the_master_as_create_ab_would_associate_it() -> None:
    ab = sample_ab()
    updated = with_masters(ab, MASTERS, expand)
    certified = ab.mcalib[1]
    assert updated.mcalib == (
        CalibInput("$DFO_CAL_DIR/MCAL/2013-02-12/UV_MBIA_130212A_BLUE.hdr", "MASTER_BIAS_BLUE",
                   "$DFO_CAL_DIR/2013-02-12/UV_MBIA_130212A_BLUE.fits", virtual=False, producer=None, level=0),
        certified)  # the certified input of another date is left as it is
    assert updated.sof[-2:] == (("$DFO_CAL_DIR/2013-02-12/UV_MBIA_130212A_BLUE.fits", "MASTER_BIAS_BLUE"),
                                (certified.sof_path, certified.tag))
    assert (updated.process_status, updated.products, updated.prod_path, updated.waitfor) == \
        (ab.process_status, ab.products, ab.prod_path, ab.waitfor)  # only the inputs change
    assert uses_masters(ab, MASTERS, expand) and not uses_masters(updated, MASTERS, expand)
    assert with_masters(updated, MASTERS, expand) == updated  # once is enough


def test_an_operators_sof_follows_the_master() -> None:
    ab = sample_ab()
    edited = replace(ab, sof_content=tuple(line for line in ab.sof if "21:52:01" not in line[0]))  # a raw frame out
    assert edited.sof_edited
    updated = with_masters(edited, MASTERS, expand)
    assert ("$DFO_CAL_DIR/2013-02-12/UV_MBIA_130212A_BLUE.fits", "MASTER_BIAS_BLUE") in updated.sof
    assert not any(BIAS in path for path, _ in updated.sof)
    assert len(updated.sof) == len(edited.sof) and updated.sof_edited  # still without the frame taken out


def test_an_ab_without_such_inputs_is_unchanged() -> None:
    plain = sample_ab(virtual=False)
    assert with_masters(plain, MASTERS, expand) is plain
    other = {ROOT / "products" / "BIAS_BLUE" / "2013-02-12" / "r.other_0000.fits": MASTER}
    assert with_masters(sample_ab(), other, expand) == sample_ab()  # another product became a master


def test_the_master_names_its_date_and_header() -> None:
    cal = sample_ab().mcalib[0]
    master = Path("/elsewhere/calib/2013-02-11/UV_MBIA_130211B_BLUE.fits")
    assert certified_input(cal, master).ref == "$DFO_CAL_DIR/MCAL/2013-02-11/UV_MBIA_130211B_BLUE.hdr"
    assert certified_input(cal, master).sof_path == "$DFO_CAL_DIR/2013-02-11/UV_MBIA_130211B_BLUE.fits"
