"""The calibration memory createAB associates from: certified masters (MCAL) and virtual products (VCAL)
of the recent dates, and the static calibrations (GEN) of every date; and the VCAL headers it writes.

* ``$DFO_CAL_DIR/MCAL/<DATE>/<name>.hdr``: the headers of certified masters (``$DFO_CAL_DIR/<DATE>/<name>.fits``),
  the newest ``N_MCAL_LIST`` dates up to the date being associated;
* ``$DFO_CAL_DIR/VCAL/<DATE>/<product stem>.hdr``: virtual products, what a CALIB AB will make (its header
  says where: ``DFOS.FILE``, and which AB: ``DFOS.AB``), the newest ``N_VCAL_LIST`` dates;
* ``$DFO_CAL_DIR/GEN/<name>.hdr``: static calibrations (:mod:`dfos.steps.static_calib`), offered to every date.

A virtual product of an AB a QC scientist rejected is offered to no one; nor is a certified master dated inside
an open raw2raw window, or hidden in the archive by a release (:class:`dfos.archive.releases.MemoryPolicy`,
docs/releases.md): :func:`skip_notes` tells ``dfos explain`` of the ABs that would have chosen among them.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from dfos.archive.releases import MemoryPolicy
from dfos.association.classify import Classifier
from dfos.association.engine import AssociationResult, Planned
from dfos.association.frames import Frame, mid_exposure
from dfos.association.match import Calib
from dfos.errors import FormatError
from dfos.fsutil import write_if_changed
from dfos.naming import confined, safe_name
from dfos.workspace import Workspace

__all__ = ["BOUNDS", "Skipped", "absurd", "master_file", "memory", "skip_notes", "write_vcals"]

#: The plausible range of the numbers createAB computes with; a frame outside it is refused, naming the
#: keyword (``EXPTIME = 1.0E308`` would otherwise make an absurd mid-exposure MJD).
BOUNDS: dict[str, tuple[float, float]] = {
    "MJD-OBS": (0.0, 100_000.0),  # 1858-11-17 .. 2132-09-01
    "EXPTIME": (0.0, 86_400.0),  # at most a day, in seconds
    "TPL.NEXP": (0.0, 100_000.0),
}


def absurd(header: Mapping[str, object]) -> str | None:
    """Which number createAB computes with lies outside :data:`BOUNDS` (None: all are plausible)."""
    for key, (low, high) in BOUNDS.items():
        value = header.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not low <= value <= high:
            return f"{key} is {value!r}, outside {low:g}..{high:g}: refused rather than dated absurdly"
    return None


def _memory_dates(base: Path, day: date, newest: int, ahead: int = 0) -> list[str]:
    """The newest ``newest`` date folders up to ``day``, and those of the ``ahead`` days after it."""
    last = (day + timedelta(days=ahead)).isoformat()
    dates = sorted(p.name for p in base.iterdir() if p.is_dir() and len(p.name) == 10 and p.name <= last) \
        if base.is_dir() else []
    later = sum(1 for name in dates if name > day.isoformat())
    return dates[-(newest + later):]


@dataclass(frozen=True)
class Skipped:
    """A certified master createAB did not offer (:class:`MemoryPolicy`): which, of what kind, why."""

    name: str
    """``<DATE>/<name>.fits``."""
    catg: str
    """Its classified DO.CATG (what an input's tag selects)."""
    reason: str


def memory(workspace: Workspace, day: date, batch: str, classifier: Classifier, done: Collection[str],
           problems: list[tuple[str, str]], rejected: Collection[str] = (), policy: MemoryPolicy | None = None,
           skipped: list[Skipped] | None = None, ahead: int = 0) -> list[Calib]:
    """Certified masters (MCAL) and virtual products (VCAL) of the recent dates (and of the ``ahead`` days after
    ``day``: a phoenix campaign in COMPLETE_MODE takes a science date's calibrations from either side).

    Virtual products of this batch are made again by this run, except those of ABs tagged DONE,
    which stand as they are; those of ``rejected`` ABs are offered to no one.  Certified masters ``policy``
    skips (a raw2raw window, hidden by a release) are not offered either: they go to ``skipped``.
    """
    from dfos.headers.io import read_header

    s = workspace.settings
    aside = [] if skipped is None else skipped
    memory: list[Calib] = _static(workspace, classifier, problems)
    for kind, newest in (("MCAL", s.N_MCAL_LIST), ("VCAL", s.N_VCAL_LIST)):
        base = workspace.cal_dir / kind
        for folder in _memory_dates(base, day, newest, ahead):
            for path in sorted((base / folder).glob("*.hdr")):
                where = f"{kind}/{folder}/{path.name}"
                try:
                    header = dict(read_header(path).cards)
                except FormatError as exc:
                    problems.append((where, exc.message))
                    continue
                why = _left_out(kind, header, batch, done, rejected)
                if why:
                    if why != _SKIP:
                        problems.append((where, why))
                    continue
                frame = Frame(path.stem + ".fits", header, path=str(path))
                frame = classifier.classify(frame) if kind == "MCAL" else classifier.classify_virtual(frame)
                ref = f"$DFO_CAL_DIR/{kind}/{folder}/{path.name}"
                if kind == "VCAL":
                    memory.append(Calib(frame, ref, str(header.get("DFOS.FILE", "")), mid_exposure(frame),
                                        virtual=True, producer=str(header.get("DFOS.AB", ""))))
                    continue
                reason = policy.skip(date.fromisoformat(folder), frame.name) if policy else None
                if reason:
                    aside.append(Skipped(f"{folder}/{frame.name}", str(frame.category or ""), reason))
                    continue
                memory.append(Calib(frame, ref, master_file(header, folder, path.stem), mid_exposure(frame)))
    return memory


def master_file(header: Mapping[str, object], folder: str, stem: str) -> str:
    """Where a certified master of the MCAL memory (``MCAL/<folder>/<stem>.hdr``) is: ``$DFO_CAL_DIR/<DATE>/``, or
    what its ``DFOS.FILE`` says when that lies in ``$DFO_CAL_DIR`` (COMPLETE_MODE: ``$DFO_CAL_DIR/NEW/<DATE>/``)."""
    said = str(header.get("DFOS.FILE") or "")
    return said if said.startswith("$DFO_CAL_DIR/") else f"$DFO_CAL_DIR/{folder}/{stem}.fits"


#: :func:`_left_out`'s answer for a file left out without a problem to report.
_SKIP = "skip"


def _left_out(kind: str, header: Mapping[str, object], batch: str, done: Collection[str],
              rejected: Collection[str]) -> str | None:
    """Why a file of the memory is left out: :data:`_SKIP` (by design) or a problem; None: it is offered."""
    if kind == "VCAL" and header.get("DFOS.BATCH") == batch and header.get("DFOS.AB") not in done:
        return _SKIP  # this run makes them again
    if kind == "VCAL" and header.get("DFOS.AB") in rejected:
        return _SKIP  # a QC scientist rejected the AB that makes it
    if kind == "VCAL" and not header.get("DFOS.FILE"):
        return "a virtual product without DFOS.FILE (where the product will be)"
    return absurd(header)


def skip_notes(planned: Iterable[Planned], skipped: Collection[Skipped]) -> dict[str, tuple[str, ...]]:
    """AB -> the lines its association log (``dfos explain``) gets for masters the policy skipped: those of
    the kind one of its inputs selects (their DO.CATG is the input's tag)."""
    notes: dict[str, tuple[str, ...]] = {}
    for plan in planned:
        tags = {match.select.tag for match in plan.inputs}
        lines = tuple(f"skipped MCAL {s.name} ({s.catg}): {s.reason}" for s in skipped if s.catg in tags)
        if lines:
            notes[plan.ab.name] = lines
    return notes


def _static(workspace: Workspace, classifier: Classifier, problems: list[tuple[str, str]]) -> list[Calib]:
    """The static calibrations (``$DFO_CAL_DIR/GEN``, :mod:`dfos.steps.static_calib`): offered to every date."""
    from dfos.headers.io import read_header
    from dfos.steps.static_calib import GEN, gen_dir

    found = []
    for path in sorted(gen_dir(workspace).glob("*.hdr")):
        try:
            header = dict(read_header(path).cards)
        except FormatError as exc:
            problems.append((f"{GEN}/{path.name}", exc.message))
            continue
        frame = classifier.classify(Frame(path.stem + ".fits", header, path=str(path)))
        found.append(Calib(frame, f"$DFO_CAL_DIR/{GEN}/{path.name}", f"$DFO_CAL_DIR/{GEN}/{path.stem}.fits",
                           mid_exposure(frame)))
    return found


def vcal_text(calib: Calib, batch: str) -> str:
    """A virtual product's header as text, built in one go (card by card, astropy takes quadratic time)."""
    from astropy.utils.exceptions import AstropyWarning

    from dfos.headers.io import card_text, dotted_header

    own = {"SIMPLE", "DFOS.BATCH", "DFOS.FILE"}
    values = [("SIMPLE", True)] + [(k, v) for k, v in calib.frame.header.items()
                                   if k not in own and isinstance(v, (str, int, float, bool))]
    values += [("DFOS.BATCH", batch), ("DFOS.FILE", calib.sof_path)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        return card_text(dotted_header(values))


def write_vcals(workspace: Workspace, key: str, batch: str, result: AssociationResult,
                 kept: Collection[str]) -> None:
    from dfos.headers.io import read_header

    folder = workspace.vcal_dir / key
    wanted = {Path(c.ref).name: c for c in result.vcals}
    if folder.is_dir():
        for path in folder.glob("*.hdr"):
            if path.name in wanted:
                continue
            try:
                header = dict(read_header(path).cards)
            except FormatError:
                continue
            if header.get("DFOS.BATCH") == batch and header.get("DFOS.AB") not in kept:
                path.unlink(missing_ok=True)  # the AB that would make it is gone or INCOMPLETE now
    for name, calib in wanted.items():
        target = confined(folder / safe_name(name, "virtual product name"), folder)
        write_if_changed(target, vcal_text(calib, batch))
