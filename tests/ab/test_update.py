"""createAB's update policy as a pure plan (dfos.ab.update), on small hand-made batches."""

from __future__ import annotations

from dataclasses import replace

from dfos.ab.lists import ABList
from dfos.ab.model import AB, CalibInput, Completeness, ProcessStatus, RawInput
from dfos.ab.update import (
    BETTER_CALIBRATION,
    CALIBRATION_REJECTED,
    PARENT_SUPERSEDED,
    Supersession,
    carry_status,
    freeze,
    plan_update,
    reassociated,
)
from malformed import sample_ab

OLD_BIAS = CalibInput("$DFO_CAL_DIR/MCAL/2013-02-10/B_OLD.hdr", "MASTER_BIAS", "$DFO_CAL_DIR/2013-02-10/B_OLD.fits")
NEW_BIAS = CalibInput("$DFO_CAL_DIR/MCAL/2013-02-12/B_NEW.hdr", "MASTER_BIAS", "$DFO_CAL_DIR/2013-02-12/B_NEW.fits")


def ab(name: str, *, waitfor: tuple[str, ...] = (), mcalib: tuple[CalibInput, ...] = (OLD_BIAS,),
       status: ProcessStatus = ProcessStatus.CREATED, complete: bool = True, raw: str = "") -> AB:
    """A small AB called ``<name>.ab`` reading one raw frame (``<raw or name>.fits``)."""
    frame = RawInput(f"$DFO_RAW_DIR/2013-02-12/{raw or name}.fits", "RAW")
    return replace(sample_ab(f"{name}.ab", virtual=False), waitfor=tuple(f"{w}.ab" for w in waitfor), mcalib=mcalib,
                   rawfiles=(frame,), process_status=status, sof_content=None,
                   completeness=Completeness.COMPLETE if complete else Completeness.INCOMPLETE)


def done(*abs_: AB) -> list[ABList]:
    return [ABList.of(a, done=True) for a in abs_]


def names(abs_: tuple[AB, ...]) -> list[str]:
    return [a.name for a in abs_]


def test_a_first_run_writes_every_ab_and_lists_them_in_cascade_order() -> None:
    made = [ab("A"), ab("B", waitfor=("A",)), ab("C", complete=False)]
    plan = plan_update(made, {}, [])
    assert plan.write == tuple(made) and plan.abs == tuple(made)
    assert plan.ab_list == tuple(ABList.of(a) for a in made)
    assert plan.keep == plan.remove == plan.superseded == () and plan.supersede == ()


def test_an_unchanged_ab_keeps_its_status_a_failed_one_is_created_again_a_changed_one_too() -> None:
    ok, failed, changed = ab("A", status=ProcessStatus.SUCCESSFUL), ab("B", status=ProcessStatus.FAILED), ab("C")
    was = replace(changed, params=("--old",), process_status=ProcessStatus.SUCCESSFUL)
    existing = {a.name: a for a in (ok, failed, was)}
    plan = plan_update([ab("A"), ab("B"), ab("C")], existing, [])
    assert [(a.name, a.process_status) for a in plan.write] == [
        ("A.ab", ProcessStatus.SUCCESSFUL), ("B.ab", ProcessStatus.CREATED), ("C.ab", ProcessStatus.CREATED)]
    assert plan.write[2].params == changed.params  # the new association, not the old file


def test_carry_status() -> None:
    new = ab("A")
    assert carry_status(new, None) is new
    assert carry_status(new, replace(new, process_status=ProcessStatus.FAILED)) is new
    kept = replace(new, process_status=ProcessStatus.SUCCESSFUL)
    assert carry_status(new, kept) is kept
    assert carry_status(new, replace(kept, recipe="other")) is new


def test_a_changed_content_key_is_a_changed_association_and_an_old_file_without_one_keeps_its_status() -> None:
    new = replace(ab("A"), content_key="a" * 64)
    kept = replace(new, process_status=ProcessStatus.SUCCESSFUL)
    assert carry_status(new, kept) is kept
    assert carry_status(new, replace(kept, content_key="b" * 64)) is new  # a parent's parameters changed
    old = carry_status(new, replace(kept, content_key=None))  # written before content keys
    assert old.process_status is ProcessStatus.SUCCESSFUL and old.content_key == "a" * 64


def test_done_abs_are_kept_as_they_are_on_disk_even_when_no_group_makes_them_any_more() -> None:
    on_disk = ab("A", status=ProcessStatus.SUCCESSFUL, mcalib=(OLD_BIAS,))
    gone = ab("G", status=ProcessStatus.SUCCESSFUL)
    made = [ab("A", mcalib=(NEW_BIAS,)), ab("B")]
    plan = plan_update(made, {"A.ab": on_disk, "G.ab": gone}, done(on_disk, gone))  # not reopened: certified
    assert plan.keep == ("A.ab", "G.ab")
    assert names(plan.write) == ["B.ab"]
    assert plan.abs == (on_disk, made[1], gone)
    assert plan.ab_list == (ABList.of(on_disk, True), ABList.of(made[1]), ABList.of(gone, True))
    assert plan.remove == ()


def test_stale_abs_no_group_makes_are_removed_unless_done() -> None:
    existing = {"X.ab": ab("X"), "Y.ab": ab("Y", status=ProcessStatus.SUCCESSFUL)}
    plan = plan_update([ab("A")], existing, done(existing["Y.ab"]))
    assert plan.remove == ("X.ab",) and plan.keep == ("Y.ab",)


def test_a_better_calibration_supersedes_a_reopened_done_ab_and_the_done_abs_that_depend_on_it() -> None:
    bias = ab("BIAS", status=ProcessStatus.SUCCESSFUL, mcalib=(OLD_BIAS,))
    dark = ab("DARK", waitfor=("BIAS",), status=ProcessStatus.SUCCESSFUL)
    flat = ab("FLAT", waitfor=("DARK",), status=ProcessStatus.SUCCESSFUL)
    other = ab("OTHER", status=ProcessStatus.SUCCESSFUL)
    existing = {a.name: a for a in (bias, dark, flat, other)}
    made = [ab("BIAS", mcalib=(NEW_BIAS,)), ab("DARK", waitfor=("BIAS",)), ab("FLAT", waitfor=("DARK",)), ab("OTHER")]
    frozen = freeze({a.name for a in existing.values()}, existing, certified=False)
    assert frozen.reopened == set(existing) and frozen.abs == frozenset() and frozen.frames == frozenset()
    plan = plan_update(made, existing, done(*existing.values()), frozen.reopened)
    assert plan.supersede == (Supersession(bias, made[0], BETTER_CALIBRATION),
                              Supersession(dark, made[1], PARENT_SUPERSEDED),
                              Supersession(flat, made[2], PARENT_SUPERSEDED))
    assert plan.superseded == ("BIAS.ab", "DARK.ab", "FLAT.ab")
    assert plan.write == tuple(made[:3])  # written anew: CREATED, no longer DONE
    assert all(a.process_status is ProcessStatus.CREATED for a in plan.write)
    assert plan.keep == ("OTHER.ab",)  # same calibrations: stays DONE
    assert [e.done for e in plan.ab_list] == [False, False, False, True]


def test_a_certified_date_keeps_every_done_ab_and_freezes_its_frames() -> None:
    bias = ab("BIAS", status=ProcessStatus.SUCCESSFUL, raw="BIAS_RAW")
    frozen = freeze({"BIAS.ab"}, {"BIAS.ab": bias}, certified=True)
    assert frozen.reopened == frozenset() and frozen.abs == {"BIAS.ab"} and frozen.frames == {"BIAS_RAW.fits"}
    plan = plan_update([ab("BIAS", mcalib=(NEW_BIAS,))], {"BIAS.ab": bias}, done(bias), frozen.reopened)
    assert plan.supersede == () and plan.keep == ("BIAS.ab",) and plan.abs == (bias,)


def test_only_successful_complete_done_abs_are_reopened() -> None:
    existing = {"F.ab": ab("F", status=ProcessStatus.FAILED), "I.ab": ab("I", complete=False),
                "S.ab": ab("S", status=ProcessStatus.SUCCESSFUL)}
    frozen = freeze({"F.ab", "I.ab", "S.ab", "MISSING.ab"}, existing, certified=False)
    assert frozen.reopened == {"S.ab"}
    assert frozen.abs == {"F.ab", "I.ab", "MISSING.ab"}
    assert frozen.frames == {"F.fits", "I.fits"}


def test_a_superseded_done_ab_without_a_file_is_written_anew_not_moved_aside() -> None:
    bias = ab("BIAS", status=ProcessStatus.SUCCESSFUL)
    dark_entry = ABList("DARK.ab", "DARK", "r", Completeness.COMPLETE, True)  # DONE, its file gone
    made = [ab("BIAS", mcalib=(NEW_BIAS,)), ab("DARK", waitfor=("BIAS",))]
    plan = plan_update(made, {"BIAS.ab": bias}, [*done(bias), dark_entry], {"BIAS.ab"})
    assert [s.old.name for s in plan.supersede] == ["BIAS.ab"]
    assert plan.superseded == ("BIAS.ab", "DARK.ab") and plan.write == tuple(made)


def test_entries_not_tagged_done_are_not_taken_for_done() -> None:
    plan = plan_update([ab("A", mcalib=(NEW_BIAS,))], {"A.ab": ab("A")}, [ABList.of(ab("A"))])
    assert plan.keep == () and names(plan.write) == ["A.ab"]


VIRTUAL_FLAT = CalibInput("$DFO_CAL_DIR/VCAL/2013-02-12/r.F_0000.hdr", "MASTER_IMG_FLAT",
                          "$DFS_PRODUCT/CAL_FLAT_TW/2013-02-12/r.F_0000.fits", virtual=True, producer="F.ab")
OLD_FLAT = CalibInput("$DFO_CAL_DIR/MCAL/2013-02-11/NA_MFLT_130211A_Ks.hdr", "MASTER_IMG_FLAT",
                      "$DFO_CAL_DIR/2013-02-11/NA_MFLT_130211A_Ks.fits")


def test_an_ab_that_read_a_rejected_calibration_is_reassociated_and_says_so() -> None:
    """A SCIENCE AB read the night's virtual flat; its producer F was rejected; the new association takes the
    certified flat of the night before: the note names the old file, its producer, the rejection and the new file."""
    science = ab("S", mcalib=(VIRTUAL_FLAT,), status=ProcessStatus.SUCCESSFUL)
    other = ab("T", mcalib=(VIRTUAL_FLAT,))
    made = [ab("S", mcalib=(OLD_FLAT,)), ab("T", mcalib=(VIRTUAL_FLAT,)), ab("U")]
    notes = reassociated(made, {"S.ab": science, "T.ab": other}, {"F.ab": "by anna at 2013-02-13T10:00:00: ghost"})
    assert list(notes) == ["S.ab"]  # T still reads the same file (not re-associated yet), U is new
    (line,) = notes["S.ab"]
    assert line == ("re-associated MASTER_IMG_FLAT: r.F_0000.fits made by F.ab was rejected (by anna at "
                    "2013-02-13T10:00:00: ghost); now $DFO_CAL_DIR/2013-02-11/NA_MFLT_130211A_Ks.fits")
    assert reassociated(made, {"S.ab": science}, {}) == {}  # nothing rejected: nothing to say
    nothing = reassociated([ab("S", mcalib=())], {"S.ab": science}, {"F.ab": "by anna"})
    assert nothing["S.ab"][0].endswith("now none (nothing else qualifies)")


def test_a_done_ab_reassociated_after_a_rejection_is_superseded_for_that_reason() -> None:
    science = ab("S", mcalib=(VIRTUAL_FLAT,), status=ProcessStatus.SUCCESSFUL)
    made = [ab("S", mcalib=(OLD_FLAT,))]
    plan = plan_update(made, {"S.ab": science}, done(science), reopened={"S.ab"}, rejected={"S.ab"})
    assert plan.supersede == (Supersession(science, made[0], CALIBRATION_REJECTED),)
    assert plan.write == tuple(made) and plan.write[0].process_status is ProcessStatus.CREATED


def test_a_done_ab_whose_virtual_input_was_made_again_is_superseded_with_its_descendants() -> None:
    """The flat of a science AB was made again by its (CALIB) AB after the science ran: the science and what
    waits for it are superseded, though their association is unchanged."""
    science = ab("S", mcalib=(VIRTUAL_FLAT,), status=ProcessStatus.SUCCESSFUL)
    child = ab("C", waitfor=("S",), status=ProcessStatus.SUCCESSFUL)
    made = [ab("S", mcalib=(VIRTUAL_FLAT,)), ab("C", waitfor=("S",))]
    existing = {"S.ab": science, "C.ab": child}
    plan = plan_update(made, existing, done(science, child), reopened={"S.ab", "C.ab"}, remade={"S.ab"})
    assert plan.supersede == (Supersession(science, made[0], PARENT_SUPERSEDED),
                              Supersession(child, made[1], PARENT_SUPERSEDED))
    unchanged = plan_update(made, existing, done(science, child), reopened={"S.ab", "C.ab"})
    assert unchanged.supersede == () and unchanged.keep == ("S.ab", "C.ab")
