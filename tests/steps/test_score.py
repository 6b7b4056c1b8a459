"""scoreQC against the workspace database: which limits apply, automatic certification and its
withdrawal, and a person's decision left alone."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, select, update

from dfos.db import ab_qc, certifications, engine_for_url, qc1_params
from dfos.steps.score import AUTO, latest_decisions, score_abs, score_date, threshold_file
from dfos.workspace import Workspace, open_workspace

BIAS = "MASTER_BIAS_BLUE"  # the shipped UVES thresholds: QC BIAS LEVEL within 170..190
LEVEL = "QC BIAS LEVEL"


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    return open_workspace(workspace.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})


def _ab(ws: Workspace, name: str, values: dict[str, float | None], mjd: float = 56335.8,
        day: str = "2013-02-12", catg: str = BIAS) -> None:
    """An AB with its QC summary row and one stored parameter per entry of ``values``."""
    with engine_for_url(ws.db_url).begin() as db:
        db.execute(insert(ab_qc).values(ab=name, batch_id=f"CALIB_{day}", date=day, instrument="UVES",
                                        raw_type="BIAS_BLUE", n_params=len(values), n_scored=0, n_red=0,
                                        verdict="grey", updated="-"))
        for param, value in values.items():
            db.execute(insert(qc1_params).values(
                ab=name, batch_id=f"CALIB_{day}", date=day, instrument="UVES", raw_type="BIAS_BLUE", pro_catg=catg,
                product=f"r.{name}_0000.fits", setup="BLUE", mjd_obs=mjd, name=param, value=value,
                text=str(value), source="header", updated="-"))


def _decide(ws: Workspace, name: str, decision: str, by: str) -> None:
    with engine_for_url(ws.db_url).begin() as db:
        db.execute(insert(certifications).values(ab=name, decision=decision, by=by, at="-", comment=""))


def _decisions(ws: Workspace) -> dict[str, tuple[str, str]]:
    with engine_for_url(ws.db_url).begin() as db:
        return latest_decisions(db)


def _set(ws: Workspace, name: str, value: float) -> None:
    with engine_for_url(ws.db_url).begin() as db:
        db.execute(update(qc1_params).where(qc1_params.c.ab == name).values(value=value))


def test_green_scores_certify_an_ab_and_record_the_limits(ws: Workspace) -> None:
    _ab(ws, "good.ab", {LEVEL: 180.0, "QC UNKNOWN": 1.0})
    result = score_abs(ws, ["good.ab"])
    assert result.verdicts == {"good.ab": "green"} and result.summaries == {"good.ab": "0/1"}  # unknown: grey
    assert result.certified == ("good.ab",) and _decisions(ws) == {"good.ab": ("certified", AUTO)}
    with engine_for_url(ws.db_url).begin() as db:
        rows = {r.name: r for r in db.execute(select(qc1_params))}
        summary = db.execute(select(ab_qc)).one()
    assert (rows[LEVEL].score, rows[LEVEL].low, rows[LEVEL].high, rows[LEVEL].method) == (0, 170.0, 190.0, "fixed")
    assert rows["QC UNKNOWN"].score is None and rows["QC UNKNOWN"].method is None
    assert (summary.n_scored, summary.n_red, summary.verdict, summary.updated) == (1, 0, "green",
                                                                                   "2013-02-13T14:00:00")


def test_a_red_rescore_withdraws_an_automatic_certification_and_green_gives_it_back(ws: Workspace) -> None:
    _ab(ws, "b.ab", {LEVEL: 180.0})
    assert score_abs(ws, ["b.ab"]).certified == ("b.ab",)
    _set(ws, "b.ab", 200.0)
    result = score_abs(ws, ["b.ab"])
    assert result.verdicts["b.ab"] == "red" and result.summaries["b.ab"] == "1/1"
    assert result.withdrawn == ("b.ab",) and _decisions(ws)["b.ab"] == ("pending", AUTO)
    assert score_abs(ws, ["b.ab"]).withdrawn == ()  # withdrawn once
    _set(ws, "b.ab", 175.0)
    assert score_abs(ws, ["b.ab"]).certified == ("b.ab",) and _decisions(ws)["b.ab"] == ("certified", AUTO)
    assert score_abs(ws, ["b.ab"]).certified == ()  # certified already: no second row


def test_a_persons_decision_is_never_changed_by_scoring(ws: Workspace) -> None:
    _ab(ws, "kept.ab", {LEVEL: 180.0})
    _ab(ws, "taken.ab", {LEVEL: 250.0}, mjd=56335.9)
    _decide(ws, "kept.ab", "rejected", "anna")
    _decide(ws, "taken.ab", "certified", "anna")  # a person took a red AB anyway
    result = score_abs(ws, ["kept.ab", "taken.ab"])
    assert result.verdicts == {"kept.ab": "green", "taken.ab": "red"}
    assert result.certified == result.withdrawn == ()
    assert _decisions(ws) == {"kept.ab": ("rejected", "anna"), "taken.ab": ("certified", "anna")}


def test_nothing_scored_is_grey_and_not_certified(ws: Workspace) -> None:
    _ab(ws, "grey.ab", {LEVEL: None, "QC OTHER": 3.0})
    result = score_abs(ws, ["grey.ab", "no-qc.ab"])
    assert result.abs == ("grey.ab",)  # an AB without a QC summary is not scored at all
    assert result.verdicts == {"grey.ab": "grey"} and result.summaries == {"grey.ab": "0/0"}
    assert result.certified == () and _decisions(ws) == {}


def test_the_workspaces_threshold_file_replaces_the_shipped_one_and_is_read_again(ws: Workspace) -> None:
    _ab(ws, "b.ab", {LEVEL: 180.0})
    own = threshold_file(ws)
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_text(f'[[threshold]]\nparam = "{LEVEL}"\nhigh = 100.0\n')
    assert score_abs(ws, ["b.ab"]).verdicts["b.ab"] == "red"
    own.write_text(f'[[threshold]]\nparam = "{LEVEL}"\nlow = 100.0\nhigh = 200.0\n')  # changed: read again
    assert score_abs(ws, ["b.ab"]).verdicts["b.ab"] == "green"
    own.unlink()
    assert score_abs(ws, ["b.ab"]).verdicts["b.ab"] == "green"  # the shipped 170..190 again


def test_statistical_limits_come_from_earlier_certified_products_only(ws: Workspace) -> None:
    own = threshold_file(ws)
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_text(f'[[threshold]]\nparam = "{LEVEL}"\nmethod = "stat"\nk = 5.0\nlast = 10\nmin_values = 5\n')
    for number, value in enumerate([100.0, 101.0, 99.0, 100.0, 102.0]):
        _ab(ws, f"old{number}.ab", {LEVEL: value}, mjd=56330.0 + number)
        _decide(ws, f"old{number}.ab", "certified", "anna")
    _ab(ws, "rejected.ab", {LEVEL: 1000.0}, mjd=56335.0)
    _decide(ws, "rejected.ab", "rejected", "anna")
    _ab(ws, "later.ab", {LEVEL: 1000.0}, mjd=56340.0)
    _decide(ws, "later.ab", "certified", "anna")
    _ab(ws, "new.ab", {LEVEL: 104.0}, mjd=56336.0)  # median 100, MAD 1: limits 95..105
    assert score_abs(ws, ["new.ab"]).verdicts["new.ab"] == "green"
    with engine_for_url(ws.db_url).begin() as db:
        row = db.execute(select(qc1_params).where(qc1_params.c.ab == "new.ab")).one()
    assert (row.low, row.high, row.method) == (95.0, 105.0, "stat")
    _set(ws, "new.ab", 106.0)
    assert score_abs(ws, ["new.ab"]).verdicts["new.ab"] == "red"
    _ab(ws, "first.ab", {LEVEL: 100.0}, mjd=56329.0)  # before any history: not enough values, grey
    assert score_abs(ws, ["first.ab"]).verdicts["first.ab"] == "grey"


def test_score_date_scores_the_dates_abs_in_order(ws: Workspace) -> None:
    _ab(ws, "b.ab", {LEVEL: 180.0})
    _ab(ws, "a.ab", {LEVEL: 300.0}, mjd=56335.9)
    _ab(ws, "other-night.ab", {LEVEL: 180.0}, day="2013-02-13", mjd=56336.8)
    result = score_date(ws, date(2013, 2, 12))
    assert result.abs == ("a.ab", "b.ab") and result.verdicts == {"a.ab": "red", "b.ab": "green"}
