"""Which runs' science frames a date's headers hold: the index DEEP mode (``phoenix -r RUN -C``) reads instead
of parsing every header of every date for every run.

``$DFO_MON_DIR/.run_index/<DATE>.json``, written atomically::

    {"stamp": [<modification time of $DFO_HDR_DIR/<DATE>, ns>, <number of .hdr files>],
     "runs": {"090.C-0456A": ["NACO.2013-02-13T01:30:00.512.hdr", ...], ...}}

It stands while the date's header directory is unchanged (headers are written by renaming, which changes the
directory's time); otherwise the date's headers are read once and the index is written anew.  A header that
cannot be read is left out here (createAB of the date reports it).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from dfos.errors import DfosError
from dfos.fsutil import write_text_atomic
from dfos.keys import KeyKind, ProcessingKey
from dfos.workspace import Workspace

__all__ = ["INDEX_DIR", "run_of", "runs_of_date"]

#: Under ``$DFO_MON_DIR``.
INDEX_DIR = ".run_index"


def run_of(prog_id: object) -> str | None:
    """The run key an OBS.PROG.ID names (``090.C-0456(A)`` -> ``090.C-0456A``), None when it names none."""
    try:
        key = ProcessingKey.parse(str(prog_id))
    except DfosError:
        return None
    return key.text if key.kind is KeyKind.RUN else None


def _stamp(folder: Path) -> list[int]:
    return [folder.stat().st_mtime_ns, sum(1 for _ in folder.glob("*.hdr"))]


def runs_of_date(workspace: Workspace, day: date) -> dict[str, list[str]]:
    """Run key -> the header files (names) of the date's science frames of that run."""
    from dfos.headers.io import read_header

    folder = workspace.hdr_dir / day.isoformat()
    if not folder.is_dir():
        return {}
    index = workspace.mon_dir / INDEX_DIR / f"{day.isoformat()}.json"
    stamp = _stamp(folder)
    try:
        kept = json.loads(index.read_text(encoding="utf-8"))
        if kept.get("stamp") == stamp and isinstance(kept.get("runs"), dict):
            return {str(k): [str(n) for n in v] for k, v in kept["runs"].items()}
    except (OSError, ValueError, AttributeError):
        pass  # none yet, or unreadable: made anew
    runs: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.hdr")):
        try:
            cards = dict(read_header(path).cards)
        except DfosError:
            continue
        run = run_of(cards.get("OBS.PROG.ID"))
        if run is not None and str(cards.get("DPR.CATG", "")).upper() == "SCIENCE":
            runs.setdefault(run, []).append(path.name)
    index.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(index, json.dumps({"stamp": stamp, "runs": runs}, sort_keys=True) + "\n")
    return runs
