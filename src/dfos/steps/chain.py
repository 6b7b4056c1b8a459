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
    from sqlalchemy import func, select

    from dfos.db import certifications, engine_for_url

    newest = (select(func.max(certifications.c.id).label("id"))
              .where(certifications.c.ab.in_(sorted(producers))).group_by(certifications.c.ab).subquery())
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(certifications.c.ab, certifications.c.decision, certifications.c.by,
                                 certifications.c.at, certifications.c.comment)
                          .join(newest, certifications.c.id == newest.c.id)).all()
    return {r.ab: f"by {r.by} at {r.at}" + (f": {r.comment}" if r.comment else "")
            for r in rows if r.decision == "rejected"}
