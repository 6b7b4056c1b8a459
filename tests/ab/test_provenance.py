"""The rejected-input rule (pure): which inputs of an AB a rejected AB made, directly or upstream."""

from __future__ import annotations

from dataclasses import replace

from dfos.ab.format import parse
from dfos.ab.model import CalibInput
from dfos.ab.provenance import RejectedInput, Rejection, recipe_inputs, trace_rejected

FLAT_FILE = "$DFS_PRODUCT/CAL_FLAT_TW/2013-02-12/r.FLAT_0000.fits"
DARK_FILE = "$DFS_PRODUCT/CAL_DARK/2013-02-12/r.DARK_0000.fits"


def made_by(tag: str, producer: str, path: str = FLAT_FILE) -> CalibInput:
    return CalibInput(f"$DFO_CAL_DIR/VCAL/2013-02-12/{producer}.hdr", tag, path, virtual=True, producer=producer)


MASTER = CalibInput("$DFO_CAL_DIR/MCAL/2013-02-10/NC_MDRK.hdr", "NACO_IMG_DARK_AVG",
                    "$DFO_CAL_DIR/2013-02-10/NC_MDRK.fits")
INPUTS = {
    "SCI.ab": (made_by("MASTER_IMG_FLAT", "FLAT.ab"), MASTER),
    "FLAT.ab": (made_by("CAL_DARK", "DARK.ab", DARK_FILE),),
    "DARK.ab": (),
    "OTHER_SCI.ab": (MASTER,),
}
REJECTED_DARK = Rejection("DARK.ab", "qc-scientist", "2013-02-13T10:00:00", "hot column")
REJECTED_FLAT = Rejection("FLAT.ab", "qc-scientist", "2013-02-13T10:05:00")


def test_an_input_whose_producer_stands_rejected() -> None:
    found = trace_rejected(INPUTS, {"FLAT.ab": REJECTED_FLAT}, ["SCI.ab", "OTHER_SCI.ab"])
    assert found == {"SCI.ab": (RejectedInput("MASTER_IMG_FLAT", FLAT_FILE, "FLAT.ab", REJECTED_FLAT),)}
    assert found["SCI.ab"][0].reason() == ("MASTER_IMG_FLAT from FLAT.ab; FLAT.ab was rejected by qc-scientist at "
                                           "2013-02-13T10:05:00")


def test_a_rejection_upstream_of_the_producer_taints_what_was_made_downstream() -> None:
    found = trace_rejected(INPUTS, {"DARK.ab": REJECTED_DARK}, ["SCI.ab", "FLAT.ab", "DARK.ab", "OTHER_SCI.ab"])
    assert found == {
        "SCI.ab": (RejectedInput("MASTER_IMG_FLAT", FLAT_FILE, "FLAT.ab", REJECTED_DARK, via=()),),
        "FLAT.ab": (RejectedInput("CAL_DARK", DARK_FILE, "DARK.ab", REJECTED_DARK),),
    }
    assert found["SCI.ab"][0].reason() == ("MASTER_IMG_FLAT from FLAT.ab, made with a product of DARK.ab; DARK.ab "
                                           "was rejected by qc-scientist at 2013-02-13T10:00:00: hot column")
    # a longer chain names the ABs in between, nearest the producer first
    longer = {**INPUTS, "FLAT.ab": (made_by("CAL_DARK", "MID.ab"),), "MID.ab": (made_by("RAW", "DARK.ab"),)}
    traced = trace_rejected(longer, {"DARK.ab": REJECTED_DARK}, ["SCI.ab"])["SCI.ab"][0]
    assert traced.via == ("MID.ab",) and traced.producer == "FLAT.ab" and traced.rejection.ab == "DARK.ab"
    assert traced.to_json()["via"] == ["MID.ab"] and traced.to_json()["rejected"] == "DARK.ab"


def test_nothing_rejected_nothing_found_and_the_nearest_rejection_stops_the_walk() -> None:
    assert trace_rejected(INPUTS, {}, list(INPUTS)) == {}
    both = trace_rejected(INPUTS, {"DARK.ab": REJECTED_DARK, "FLAT.ab": REJECTED_FLAT}, ["SCI.ab"])
    assert [item.rejection.ab for item in both["SCI.ab"]] == ["FLAT.ab"]  # the flat is rejected itself


def test_two_paths_to_one_rejected_ab_give_one_line_and_a_cycle_ends() -> None:
    diamond = {"SCI.ab": (made_by("MASTER_IMG_FLAT", "FLAT.ab"),),
               "FLAT.ab": (made_by("A", "LEFT.ab"), made_by("B", "RIGHT.ab")),
               "LEFT.ab": (made_by("C", "DARK.ab"),), "RIGHT.ab": (made_by("D", "DARK.ab"),)}
    found = trace_rejected(diamond, {"DARK.ab": REJECTED_DARK}, ["SCI.ab"])
    assert len(found["SCI.ab"]) == 1
    cycle = {"SCI.ab": (made_by("X", "A.ab"),), "A.ab": (made_by("Y", "B.ab"),), "B.ab": (made_by("Z", "A.ab"),)}
    assert trace_rejected(cycle, {"DARK.ab": REJECTED_DARK}, ["SCI.ab"]) == {}


AB_TEXT = """\
INSTRUMENT      NACO
DATE            2013-02-12
DPR_CATG        SCIENCE
RAW_TYPE        IM_JITTER_OBJ
RECIPE          naco_img_jitter
DRS_TYPE        CON
BATCH_ID        SCIENCE_2013-02-12
AB_NAME         NACO.2013-02-13T00:06:00.345_tpl.ab
AB_EVENT        naco_img_jitter
ACTION          naco_img_jitter
COMPLETENESS    COMPLETE
PROCESS_STATUS  CREATED
OBS_PROG_ID     113.26XA.001
OBS_MODE        NONE
OBS_ID          204911009
MJD-OBS         56336.00417066
MJD-OBS_MOD     56336.00451788
PROD_ROOT_NAME  r.NACO.2013-02-13T00:06:00.345_tpl
LOG_NAME        r.NACO.2013-02-13T00:06:00.345_tpl.log
PROD_PATH       $DFS_PRODUCT/IM_JITTER_OBJ/2013-02-12
RAWFILE         $DFO_RAW_DIR/2013-02-12/NACO.2013-02-13T00:06:00.345.fits  IM_JITTER_OBJ
MCALIB VIRTUAL  $DFO_CAL_DIR/VCAL/2013-02-12/r.FLAT_0000.hdr  MASTER_IMG_FLAT  {flat}  by=FLAT.ab
MCALIB          $DFO_CAL_DIR/MCAL/2013-02-10/NC_MDRK.hdr  NACO_IMG_DARK_AVG  $DFO_CAL_DIR/2013-02-10/NC_MDRK.fits
"""


def test_the_recipe_inputs_are_those_of_the_sof() -> None:
    ab = parse(AB_TEXT.format(flat=FLAT_FILE))
    assert [cal.producer for cal in recipe_inputs(ab)] == ["FLAT.ab", None]
    # an operator edited SOF_CONTENT and dropped the virtual flat: the recipe never read it
    edited = replace(ab, sof_content=((ab.rawfiles[0].ref, "IM_JITTER_OBJ"), (ab.mcalib[1].sof_path, "X")))
    assert [cal.tag for cal in recipe_inputs(edited)] == ["NACO_IMG_DARK_AVG"]
