"""The rule that says when a parent in another cascade ended, and the words the operator sees."""

from __future__ import annotations

import pytest

from dfos.ab.model import ProcessStatus
from dfos.cascade.externals import External, ExternalState, Sighting, awaiting_text, judge_external, waiting_reason

CAL = External("UVES.bias.ab", "CALIB_2013-02-12", "SCIENCE_2013-02-12")
OWN, SUB = "CALIB_2013-02-12", "CALIB_2013-02-12_sub"
OK, FAILED, CREATED = ProcessStatus.SUCCESSFUL, ProcessStatus.FAILED, ProcessStatus.CREATED
REQUEUE = "once it succeeded, queue again with 'dfos create-job -m SCIENCE -d 2013-02-12'"
REASSOCIATE = "re-associate with 'dfos create-ab -m SCIENCE -d 2013-02-12'"


@pytest.mark.parametrize(("seen", "expected"), [
    # succeeded: its AB file says so, and its own cascade (if it has a row there)
    (Sighting(OK, rows={OWN: "succeeded"}), ExternalState(True)),
    (Sighting(OK), ExternalState(True)),  # processed outside any cascade
    (Sighting(OK, rows={OWN: "failed", SUB: "succeeded"}), ExternalState(True)),  # redone in a subcascade
    # not ended yet: the children keep waiting
    (Sighting(CREATED), ExternalState(None)),  # not queued yet
    (Sighting(CREATED, rows={OWN: "waiting"}), ExternalState(None)),
    (Sighting(CREATED, rows={OWN: "submitted"}), ExternalState(None)),
    (Sighting(OK, rows={OWN: "running"}), ExternalState(None)),  # its file is written before its row
    (Sighting(OK, rows={OWN: "waiting"}), ExternalState(None)),  # queued again: it runs again
    (Sighting(FAILED, rows={OWN: "failed", SUB: "waiting"}), ExternalState(None)),  # queued to be redone
    (Sighting(OK, rows={OWN: "succeeded", SUB: "running"}), ExternalState(None)),
    # failed: the children are blocked, with the reason
    (Sighting(FAILED, rows={OWN: "failed"}),
     ExternalState(False, f"its calibration UVES.bias.ab failed in cascade {OWN}: {REQUEUE}")),
    (Sighting(CREATED, rows={OWN: "blocked"}),
     ExternalState(False, f"its calibration UVES.bias.ab was blocked in cascade {OWN}: {REQUEUE}")),
    (Sighting(CREATED, rows={SUB: "incomplete"}),
     ExternalState(False, f"its calibration UVES.bias.ab is incomplete in cascade {SUB}: {REQUEUE}")),
    (Sighting(CREATED, complete=False),
     ExternalState(False, f"its calibration UVES.bias.ab is INCOMPLETE, it never runs: {REASSOCIATE}")),
    (Sighting(OK, rows={OWN: "succeeded"}, decision="rejected"),
     ExternalState(False, f"its calibration UVES.bias.ab was rejected: {REASSOCIATE}")),
    (Sighting(None), ExternalState(False, f"its calibration UVES.bias.ab is no longer an AB: {REASSOCIATE}")),
    (Sighting(OK, rows={OWN: "succeeded"}, decision="certified"), ExternalState(True)),
])
def test_the_rule(seen: Sighting, expected: ExternalState) -> None:
    assert judge_external(CAL, seen) == expected


def test_its_own_cascades_are_its_batch_and_the_batch_s_subcascade() -> None:
    assert CAL.cascades == (OWN, SUB)
    assert External("x.ab", "CALIB_2013-02-12_sub", "SCIENCE_2013-02-12").cascades == (OWN, SUB)
    odd = External("x.ab", "not a batch", "nor this")
    assert odd.cascades == ("not a batch",) and odd.kind == "parent"
    assert judge_external(odd, Sighting(None)).reason == "its parent x.ab is no longer an AB: re-associate with " \
                                                         "'dfos create-ab'"


def test_what_the_operator_reads_while_abs_wait() -> None:
    flat = External("UVES.flat.ab", "CALIB_2013-02-12", "SCIENCE_2013-02-12")
    sci = External("UVES.sci.ab", "SCIENCE_2013-02-11", "SCIENCE_2013-02-12")
    assert waiting_reason([]) is None
    assert waiting_reason([CAL]) == "waiting for calibration UVES.bias.ab of CALIB_2013-02-12"
    assert waiting_reason([CAL, flat, sci]) == ("waiting for calibrations UVES.bias.ab, UVES.flat.ab of "
                                                "CALIB_2013-02-12; parent UVES.sci.ab of SCIENCE_2013-02-11")
    assert awaiting_text([]) == ""
    assert awaiting_text([CAL, flat]) == "waiting for 2 calibration ABs of CALIB_2013-02-12"
    assert awaiting_text([CAL, sci]) == ("waiting for 1 calibration AB of CALIB_2013-02-12, "
                                         "1 parent AB of SCIENCE_2013-02-11")
