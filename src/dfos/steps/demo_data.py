"""Synthetic nights into the workspace archive (``dfos demo-data``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from astropy.utils.exceptions import AstropyWarning

from dfos.archive.local import LocalArchive
from dfos.errors import UsageError
from dfos.fsutil import atomic_path
from dfos.instruments.base import Instrument
from dfos.instruments.registry import available, get_instrument
from dfos.synth.eso_headers import INSTRUMENTS as HEADER_NIGHTS
from dfos.synth.eso_headers import write_header_night
from dfos.synth.plan import FramePlan, expand
from dfos.workspace import Workspace

__all__ = ["SyntheticNight", "generate_night", "plan_night", "synthetic_plugin", "write_demo_headers"]


@dataclass(frozen=True)
class SyntheticNight:
    """What ``demo-data`` wrote."""

    instrument: str
    frames: tuple[FramePlan, ...]
    written: int
    """Frames newly written (existing ones are kept)."""
    directory: Path
    batch: int | None = None
    """With ``batches``: the part released by this call (1-based)."""


def synthetic_plugin(instrument: str) -> Instrument:
    """The plugin of ``instrument`` if dfos can write synthetic FITS nights of it, else a UsageError saying
    what to do instead."""
    plugin = get_instrument(instrument)
    if not plugin.has_synthetic_night:
        able = sorted(name for name, cls in available().items() if cls().has_synthetic_night)
        headers = " (or 'dfos demo-data --headers' for a night of headers to classify and associate)" \
            if plugin.name in HEADER_NIGHTS else ""
        raise UsageError(
            f"dfos has no synthetic FITS night of {plugin.name} (only of {', '.join(able)}): put real "
            f"{plugin.name} frames into the archive ($DFO_ARCHIVE_DIR) or 'dfos download' them{headers}, "
            f"or run demo-data in a {' or '.join(able)} workspace"
        )
    return plugin


def write_demo_headers(workspace: Workspace, day: date, instrument: str | None = None) -> list[Path]:
    """A synthetic night of headers (no pixels) in ``$DFO_HDR_DIR/<DATE>``, shaped like the instrument's
    real frames (:mod:`dfos.synth.eso_headers`): createAB classifies and associates them with the
    workspace's rules; they cannot be processed.  UsageError for an instrument without such a night."""
    plugin = get_instrument(instrument or workspace.settings.INSTRUMENT)
    if plugin.name not in HEADER_NIGHTS:
        raise UsageError(f"dfos has no synthetic header night of {plugin.name} (only of "
                         f"{', '.join(HEADER_NIGHTS)}); run 'dfos demo-data' without --headers")
    return write_header_night(workspace.hdr_dir / day.isoformat(), plugin.name, day)


def plan_night(instrument: str, day: date) -> list[FramePlan]:
    """The frames of a synthetic night, oldest first (no files touched)."""
    plugin = synthetic_plugin(instrument)
    return expand(plugin.night(day), plugin.file_prefix)


def generate_night(
    workspace: Workspace,
    day: date,
    instrument: str | None = None,
    small: bool = False,
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
    only: Collection[str] | None = None,
    bias_shift: float = 0.0,
    batches: int | None = None,
) -> SyntheticNight:
    """Write a synthetic night into the workspace archive; frames already there are left alone.

    ``only`` keeps the templates of those categories (e.g. ``BIAS_BLUE``); ``bias_shift`` adds ADU
    to every chip's injected bias level (a month of nights with a drifting bias tests trends).
    ``batches`` releases the night in that many parts, in time order, one part per call (a growing
    night): the frames up to the next part's end are written; :attr:`SyntheticNight.batch` says which.
    Each frame is written to a temporary file and renamed into place, so an
    interrupted run leaves no half-written frame.
    """
    plugin = synthetic_plugin(instrument or workspace.settings.INSTRUMENT)
    archive = LocalArchive(workspace.archive_dir)
    arms = {name: replace(arm, chips=tuple(replace(c, bias_adu=c.bias_adu + bias_shift) for c in arm.chips))
            for name, arm in plugin.arms(small).items()}
    templates = plugin.night(day)
    if only is not None:
        unknown = set(only) - {t.category for t in templates}
        if unknown:
            raise UsageError(f"no template {sorted(unknown)[0]} in a {plugin.name} night; "
                             f"choose from {', '.join(sorted({t.category for t in templates}))}")
        templates = [t for t in templates if t.category in only]
    frames = expand(templates, plugin.file_prefix)
    batch = None
    if batches is not None:
        if batches < 1:
            raise UsageError("--batches must be at least 1")
        present = sum(archive.store_path(f.name.render()).exists() for f in frames)
        batch = min(batches, present * batches // len(frames) + 1)
        frames = frames[: -(-batch * len(frames) // batches)]
    written = 0
    for done, frame in enumerate(frames, start=1):
        target = archive.store_path(frame.name.render())
        if not target.exists():
            hdul = plugin.render(frame, arms[frame.template.arm], seed)
            with atomic_path(target) as tmp, warnings.catch_warnings():
                warnings.simplefilter("ignore", AstropyWarning)
                hdul.writeto(tmp, overwrite=True, output_verify="silentfix")
            written += 1
        if progress:
            progress(done, len(frames))
    directories = {archive.store_path(f.name.render()).parent for f in frames}
    return SyntheticNight(
        instrument=plugin.name,
        frames=tuple(frames),
        written=written,
        directory=min(directories) if len(directories) == 1 else archive.root,
        batch=batch,
    )
