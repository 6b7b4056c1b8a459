"""The chain between modes: which calibration ABs were rejected, as createAB needs to know it.

A SCIENCE AB reads the night's virtual calibrations (``MCALIB VIRTUAL ... by=<CALIB AB>``).  When a QC
scientist rejects that CALIB AB, certify removes its virtual products from the calibration memory, so
the next ``create-ab -m SCIENCE`` associates the next best calibration (a certified master of an earlier
night); :func:`rejections` tells createAB which producers were rejected, by whom and why, so that the
AB's association log (``dfos explain``) and the supersession log say it.
"""

from __future__ import annotations

from collections.abc import Collection

from dfos.workspace import Workspace

__all__ = ["rejections"]


def rejections(workspace: Workspace, producers: Collection[str]) -> dict[str, str]:
    """Of ``producers`` (AB names), those whose newest certification decision is a rejection: AB -> how
    (``by anna at 2013-02-13T10:00:00: flat too noisy``)."""
    if not producers:
        return {}
    from dfos.steps.rejected_inputs import standing_rejections  # (SQLAlchemy: not at import)

    return {ab: f"by {r.by} at {r.at}" + (f": {r.comment}" if r.comment else "")
            for ab, r in standing_rejections(workspace, sorted(producers)).items()}
