"""ToDo lists that cannot hurt: which runs a date's flags allow, as pure functions over DFO_STATUS flags.

A job (a JOBS_NIGHT / JOBS_AUTO block, the monitor's "createJob + cascade + QC", ``dfos create-job``,
``exec-cascade`` of a date's cascade) processes one mode of a date and ends by writing ``<mode>_QC``.  It must
never roll a date back: when the newest flag of that mode is past processing (``cal_Certif``,
``cal_Updated``, ``sci_Harvested``) or the date is ``finished`` / ``removed``, the run is refused before
anything runs (:func:`job_refusal`).

``<mode>_Reset`` (``dfos reset``) sends a mode back to before createAB: the mode's flags written before it no
longer count (:func:`effective_flags`), so the decision table offers createAB again.  A reset is itself refused
once the mode was moved or the date finished (:func:`reset_refusal`): certified products already moved are
never touched.
"""

from __future__ import annotations

from collections.abc import Sequence

from dfos.keys import Mode, Stage, mode_flag, parse_mode_flag
from dfos.status.flags import StatusFlag

__all__ = ["PAST_PROCESSING", "effective_flags", "job_refusal", "mode_stage", "reset_pending", "reset_refusal"]

#: Stages after which a mode's products are certified or moved: processing it again would roll it back.
PAST_PROCESSING = (Stage.CERTIF, Stage.UPDATED, Stage.HARVESTED)
#: Stages after which a mode's products left the product directory (a reset would lose certified work).
MOVED = (Stage.UPDATED, Stage.HARVESTED)
_CLOSED = (StatusFlag.FINISHED.value, StatusFlag.REMOVED.value)
_WORDS = {Stage.CERTIF: "certified", Stage.UPDATED: "moved", Stage.HARVESTED: "harvested"}


def effective_flags(flags: Sequence[str]) -> list[str]:
    """The flags that still count: a ``<mode>_Reset`` drops the flags of its mode written before it (and itself);
    flags of no mode and of the other mode stay."""
    kept: list[str] = []
    for flag in flags:
        parsed = parse_mode_flag(flag)
        if parsed is not None and parsed[1] is Stage.RESET:
            kept = [f for f in kept if (parse_mode_flag(f) or (None, None))[0] is not parsed[0]]
            continue
        kept.append(flag)
    return kept


def mode_stage(flags: Sequence[str], mode: Mode | str) -> Stage | None:
    """The stage of the newest flag of ``mode`` that counts (None: the mode has not started, or was reset)."""
    wanted = Mode.parse(mode)
    for flag in reversed(effective_flags(flags)):
        parsed = parse_mode_flag(flag)
        if parsed is not None and parsed[0] is wanted:
            return parsed[1]
    return None


def reset_pending(flags: Sequence[str], mode: Mode | str) -> bool:
    """Whether ``mode`` was reset and not started again (its newest flag is ``<mode>_Reset``): the date waits
    for the mode's createAB, so finish (which deletes the raw frames) must wait too."""
    wanted = Mode.parse(mode)
    for flag in reversed(flags):
        parsed = parse_mode_flag(flag)
        if parsed is not None and parsed[0] is wanted:
            return parsed[1] is Stage.RESET
    return False


def _closed(flags: Sequence[str]) -> str | None:
    return next((f for f in reversed(flags) if f in _CLOSED), None)


def job_refusal(flags: Sequence[str], mode: Mode | str, day: str) -> str | None:
    """Why a processing job of ``mode`` for ``day`` must not run (one line), None when it may.

    ``flags``: every DFO_STATUS flag of the date, oldest first."""
    wanted = Mode.parse(mode)
    closed = _closed(flags)
    if closed is not None:
        return (f"{wanted} {day} is {closed} (DFO_STATUS): a job for it would roll the date back; nothing was run. "
                "Remove the stale block from the job file")
    stage = mode_stage(flags, wanted)
    if stage in PAST_PROCESSING:
        flag = mode_flag(wanted, stage)
        advice = ("products already moved are never processed again"
                  if stage in MOVED else f"'dfos reset -m {wanted} -d {day}' first, to process it again")
        return (f"{wanted} {day} is already {_WORDS[stage]} ({flag} in DFO_STATUS): this job would roll it back; "
                f"nothing was run ({advice})")
    return None


def reset_refusal(flags: Sequence[str], mode: Mode | str, day: str, force: bool = False) -> str | None:
    """Why ``dfos reset`` of ``mode`` for ``day`` is refused (one line), None when it may go on.

    A date moved, harvested or finished is refused unless ``force`` (``dfos reset --force``): even then,
    products already moved are never touched."""
    if force:
        return None
    wanted = Mode.parse(mode)
    closed = _closed(flags)
    stage = mode_stage(flags, wanted)
    if closed is not None:
        what = closed
    elif stage is not None and stage in MOVED:
        what = f"already {_WORDS[stage]} ({mode_flag(wanted, stage)})"
    else:
        return None
    return (f"{wanted} {day} is {what}: its certified products left the product directory; add --force to reset "
            "its ABs, DONE tags and job files anyway (products already moved stay where they are)")
