"""Problem 10: processAB hands esorex the AB's SOF_CONTENT as written, also when an operator edited it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dfos.ab.format import render
from dfos.ab.model import ProcessStatus, RawInput
from dfos.steps.process_ab import load_ab, process_ab
from dfos.workspace import Workspace, open_workspace
from malformed import sample_ab


def test_process_ab_writes_the_edited_sof_content(workspace: Workspace, tmp_path: Path) -> None:
    copy = tmp_path / "sof-seen"
    esorex = tmp_path / "esorex"
    esorex.write_text(f'#!/bin/sh\nfor arg in "$@"; do sof="$arg"; done\ncp "$sof" {copy}\n')
    esorex.chmod(0o755)
    ws = open_workspace(workspace.root, env={"DFOS_ESOREX": str(esorex)})
    raws = [f"$DFO_RAW_DIR/2013-02-12/UVES.2013-02-12T21:52:0{i}.500.fits" for i in range(3)]
    for ref in raws:
        ws.expand(ref).parent.mkdir(parents=True, exist_ok=True)
        ws.expand(ref).write_bytes(b"")
    ab = replace(sample_ab(virtual=False), name="F.ab", mcalib=(), products=(),
                 rawfiles=tuple(RawInput(ref, "FLAT_BLUE") for ref in raws))
    text = render(ab)
    # the operator drops the second frame and retags the third
    edited = text.replace(f"SOF_CONTENT     {raws[1]}  FLAT_BLUE\n", "").replace(
        f"SOF_CONTENT     {raws[2]}  FLAT_BLUE", f"SOF_CONTENT     {raws[2]}  BKG_FLAT_BLUE")
    (ws.ab_dir / "F.ab").write_text(edited)

    run = process_ab(ws, "F.ab")

    assert run.ok, run.message
    assert copy.read_text().splitlines() == [f"{ws.expand(raws[0])} FLAT_BLUE", f"{ws.expand(raws[2])} BKG_FLAT_BLUE"]
    after = load_ab(ws, "F.ab")  # the status update keeps the edited lines
    assert after.process_status is ProcessStatus.SUCCESSFUL and after.sof_edited
    assert [tag for _, tag in after.sof] == ["FLAT_BLUE", "BKG_FLAT_BLUE"]
