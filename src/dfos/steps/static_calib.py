"""Static calibrations: files an observatory keeps in its calibration memory for good (DFOS:
``GEN_CALDIR``), such as NACO's standard-star catalogue.

They live in ``$DFO_CAL_DIR/GEN``: ``<name>.fits`` and its header ``<name>.hdr`` beside it.  createAB
offers every one of them to every date (they have no date window), ``finish``/``cleanup`` never touch
them, and association takes them like certified masters (by their PRO.CATG).

:func:`install_static` makes an instrument's static calibrations (:meth:`Instrument.static_calibrations`)
with the utility recipe that makes them from a text file, in a scratch directory, and only then moves
the product into place (a failed run leaves nothing behind).  A calibration already installed is kept.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dfos.errors import DfosError, StateError
from dfos.fsutil import atomic_path
from dfos.instruments.base import Instrument, StaticCalibration
from dfos.naming import confined, safe_name
from dfos.workspace import Workspace

__all__ = ["GEN", "StaticResult", "gen_dir", "install_static"]

#: The static calibrations' directory under ``$DFO_CAL_DIR``.
GEN = "GEN"


@dataclass(frozen=True)
class StaticResult:
    installed: tuple[str, ...]
    """Files made by this call."""
    kept: tuple[str, ...]
    """Files that were there already."""


def gen_dir(workspace: Workspace) -> Path:
    """``$DFO_CAL_DIR/GEN``."""
    return workspace.cal_dir / GEN


def install_static(workspace: Workspace, plugin: Instrument) -> StaticResult:
    """Make and install ``plugin``'s static calibrations that are not installed yet; see the module."""
    target = gen_dir(workspace)
    installed, kept = [], []
    for static in plugin.static_calibrations():
        fits_path = confined(target / f"{safe_name(static.name, 'static calibration name')}.fits", target)
        if fits_path.is_file() and fits_path.with_suffix(".hdr").is_file():
            kept.append(fits_path.name)
            continue
        target.mkdir(parents=True, exist_ok=True)
        _make(workspace, static, fits_path)
        installed.append(fits_path.name)
    return StaticResult(tuple(installed), tuple(kept))


def _make(workspace: Workspace, static: StaticCalibration, fits_path: Path) -> None:
    from astropy.io import fits

    from dfos.headers.io import fits_primary_header, write_hdr

    esorex = workspace.settings.ESOREX
    with tempfile.TemporaryDirectory(prefix="dfos-static-") as scratch:
        work = Path(scratch)
        (work / "input.txt").write_text(static.text, encoding="utf-8")
        (work / "input.sof").write_text(f"{work / 'input.txt'} {static.tag}\n", encoding="utf-8")
        argv = [esorex, "--suppress-prefix=TRUE", f"--output-dir={work}", f"--log-dir={work}", static.recipe,
                str(work / "input.sof")]
        try:
            done = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StateError(f"cannot run {static.recipe} to make {static.name}: {exc}") from None
        made = [p for p in sorted(work.glob("*.fits"))
                if fits.getval(p, "HIERARCH ESO PRO CATG", default="") == static.pro_catg]
        if done.returncode != 0 or not made:
            last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            raise StateError(f"{static.recipe} did not make {static.pro_catg} for {static.name} "
                             f"(exit {done.returncode}: {last[0][:200]}); see 'esorex --man-page {static.recipe}'")
        with atomic_path(fits_path) as tmp:
            shutil.copyfile(made[0], tmp)
    try:
        write_hdr(fits_path.with_suffix(".hdr"), fits_primary_header(fits_path))
    except DfosError:
        fits_path.unlink(missing_ok=True)
        raise
