"""AB pages keep working after move and finish (issue 20): a real UVES night processed, certified, moved,
ingested, finished and cleaned up; the AB page finds the AB in $DFO_LOG_DIR/<DATE>, lists its products under
their certified names with links ($DFO_CAL_DIR/<DATE>; their headers after cleanup), keeps the association
log (dfos explain), the recipe log and the certification history."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from dfos.monitor.app import create_app
from dfos.steps.certify import Decision, certify, parse_decisions
from dfos.steps.finish import cleanup, finish
from dfos.steps.ingest import ingest
from dfos.steps.move import move
from dfos.workspace import Workspace
from nights import BIAS, DARK, FLAT, NIGHT, ORDERPOS, process_night

pytestmark = pytest.mark.esorex

TOKEN = "after-move"


def _products(page: str) -> list[tuple[str, str]]:
    section = page[page.index("<h2>products</h2>"):]
    section = section[:section.index("</ul>")]
    return re.findall(r'<li><a href="(/file\?path=[^"]+)">([^<]+)</a></li>', section)


def _explain(page: str) -> str:
    found = re.search(r"<h2>why these inputs \(dfos explain\)</h2><pre>(.*?)</pre>", page, re.S)
    assert found
    return found[1]


def test_an_ab_page_after_move_finish_and_cleanup(uves_night: Workspace) -> None:
    ws = process_night(uves_night)
    with TestClient(create_app(ws, token=TOKEN), base_url="http://127.0.0.1") as client:
        client.get(f"/login?token={TOKEN}")
        before = client.get(f"/ab/{BIAS}").text
        assert [name for _, name in _products(before)] == ["r.UVES.2013-02-12T18:05:00.500_tpl_0000.fits"]

        certify(ws, "CALIB", NIGHT, accept_green=True, user="alice")
        certify(ws, "CALIB", NIGHT, parse_decisions(f"{ORDERPOS} accept orders fine\n{FLAT} accept\n"), user="alice")
        certify(ws, "CALIB", NIGHT, [Decision(DARK, "certified", "dark current as usual")], user="bob")
        move(ws, "CALIB", NIGHT)
        assert not (ws.ab_dir / BIAS).exists() and (ws.log_dir / "2013-02-12" / BIAS).is_file()
        ingest(ws, "CALIB", NIGHT)
        finish(ws, NIGHT)

        page = client.get(f"/ab/{BIAS}")
        assert page.status_code == 200
        products = _products(page.text)
        assert [name for _, name in products] == ["UV_MBIA_130212A_BLUE.fits"]  # its certified name
        assert products[0][0] == "/file?path=calib/2013-02-12/UV_MBIA_130212A_BLUE.fits"
        shown = client.get(products[0][0])
        assert shown.status_code == 200 and "UV_MBIA_130212A_BLUE.fits: FITS file" in shown.text
        explain = _explain(page.text)
        assert "no association log" not in explain
        assert f"AB {BIAS}: COMPLETE, recipe uves_cal_mbias" in explain
        assert "no log yet" not in page.text
        assert re.search(r'class="cert-by">alice<', page.text)

        dark = client.get(f"/ab/{DARK}").text
        assert [name for _, name in _products(dark)] == ["UV_MDAR_130212A_BLUE.fits"]
        assert "dark current as usual" in dark and 'class="cert-by">bob<' in dark
        red = client.get(f"/ab/{ORDERPOS}").text
        assert [name for _, name in _products(red)] == ["UV_ORDT_130212A_BLUE.fits"]

        cleanup(ws, NIGHT)  # the ingested FITS become their headers
        products = _products(client.get(f"/ab/{BIAS}").text)
        assert [name for _, name in products] == ["UV_MBIA_130212A_BLUE.hdr"]
        header = client.get(products[0][0])
        assert header.status_code == 200 and "MASTER_BIAS_BLUE" in header.text  # its PRO.CATG
