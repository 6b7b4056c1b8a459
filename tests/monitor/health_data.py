"""QC1 values written straight into a workspace's database (no esorex): the health page's tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from dfos.dates import datetime_to_mjd
from dfos.db import engine_for_url, qc1_params
from dfos.workspace import Workspace

__all__ = ["qc1_row", "write_qc1"]


def qc1_row(taken: datetime, name: str, pro_catg: str, value: float, score: int | None = 0,
            low: float | None = None, high: float | None = None, setup: str = "BLUE") -> dict[str, Any]:
    """One ``qc1_params`` row of a master taken at ``taken`` (its DFO date: the UT date, taken after noon)."""
    day = taken.date().isoformat()
    ab = f"UVES.{taken:%Y-%m-%dT%H:%M:%S}.ab"
    return {"ab": ab, "batch_id": f"CALIB_{day}", "date": day, "instrument": "UVES", "raw_type": "BIAS",
            "pro_catg": pro_catg, "product": f"r.{ab[:-3]}_{pro_catg}.fits", "setup": setup,
            "mjd_obs": datetime_to_mjd(taken), "name": name, "value": value, "text": f"{value}", "unit": "ADU",
            "description": "", "source": "header", "score": score, "low": low, "high": high,
            "method": "fixed" if low is not None or high is not None else None, "updated": f"{taken:%Y-%m-%dT%H:%M:%S}"}


def write_qc1(ws: Workspace, rows: Iterable[dict[str, Any]]) -> None:
    with engine_for_url(ws.db_url).begin() as db:
        db.execute(insert(qc1_params), list(rows))
