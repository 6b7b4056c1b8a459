"""createAB's update policy, as pure functions: which ABs of a batch a new association writes, keeps,
supersedes or removes.

createAB associates a date's frames again on every run; what it then does to the ABs already on disk
is decided here, from data only (the ABs the association made, the ABs of the batch on disk, the AB
list's DONE tags), and returned as an :class:`UpdatePlan` that :mod:`dfos.steps.create_ab` carries out:

* an AB tagged DONE is never touched (:attr:`UpdatePlan.keep`), even when no group makes it any more;
* until the date is certified, a DONE AB that succeeded is associated again (:func:`freeze`): when it
  now reads other calibrations (a better one arrived) it is superseded, and so is every DONE AB that
  depends on it (:attr:`UpdatePlan.supersede`: the old run is moved aside, the AB written anew);
* every other AB is written (:attr:`UpdatePlan.write`): an unchanged association keeps its
  PROCESS_STATUS, except FAILED, which is made CREATED again; a changed one is CREATED;
* an AB of the batch on disk that no group makes any more, and that is not DONE, is removed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from dfos.ab.lists import ABList
from dfos.ab.model import AB, Completeness, ProcessStatus

__all__ = ["BETTER_CALIBRATION", "CALIBRATION_REJECTED", "PARENT_SUPERSEDED", "Frozen", "Supersession", "UpdatePlan",
           "calib_inputs", "carry_status", "freeze", "plan_update", "reassociated"]

#: Why an AB is superseded (written to the supersession log).
BETTER_CALIBRATION = "a better calibration arrived"
CALIBRATION_REJECTED = "a calibration it used was rejected"
PARENT_SUPERSEDED = "an AB it depends on was superseded"


@dataclass(frozen=True)
class Frozen:
    """What the DONE ABs of a batch hold back from a new association."""

    abs: frozenset[str]
    """DONE ABs that stand as they are: their raw frames form no new group, their virtual products stay."""
    frames: frozenset[str]
    """The raw frames (file names) of those ABs."""
    reopened: frozenset[str]
    """DONE ABs associated again, to be superseded if a better calibration arrived (none once certified)."""


def freeze(done: Collection[str], existing: Mapping[str, AB], certified: bool) -> Frozen:
    """Which DONE ABs stand and which are associated again.

    ``done`` are the ABs the AB list tags DONE, ``existing`` the batch's ABs on disk, ``certified``
    whether the date's certification is recorded (then every DONE AB stands).
    """
    reopened = frozenset() if certified else frozenset(
        name for name in done if name in existing and existing[name].completeness is Completeness.COMPLETE
        and existing[name].process_status is ProcessStatus.SUCCESSFUL)
    standing = frozenset(done) - reopened
    frames = frozenset(PurePosixPath(raw.ref).name for name in standing if name in existing
                       for raw in existing[name].rawfiles)
    return Frozen(standing, frames, reopened)


@dataclass(frozen=True)
class Supersession:
    """A DONE AB's run replaced by a new one: its products and log are moved aside, the AB written anew."""

    old: AB
    new: AB
    reason: str


@dataclass(frozen=True)
class UpdatePlan:
    """What createAB does to a batch's ABs (see the module docstring)."""

    abs: tuple[AB, ...]
    """Every AB of the batch afterwards, in cascade order (DONE ones as they are on disk), then the DONE ABs
    no group makes any more."""
    write: tuple[AB, ...]
    """ABs whose file is written (unless it already says the same), with their association log."""
    keep: tuple[str, ...]
    """DONE ABs left as they are, those no group makes any more last."""
    supersede: tuple[Supersession, ...]
    remove: tuple[str, ...]
    """ABs of the batch on disk that no group makes any more (and not DONE)."""
    ab_list: tuple[ABList, ...]
    """The batch's new AB list."""
    superseded: tuple[str, ...] = ()
    """The names of the superseded ABs, sorted (one without a file on disk is simply written anew)."""


def calib_inputs(ab: AB) -> set[tuple[str, str]]:
    """What an AB's recipe reads besides its raw frames: (tag, file) of each calibration."""
    return {(c.tag, c.sof_path) for c in ab.mcalib}


def carry_status(new: AB, old: AB | None) -> AB:
    """An unchanged association keeps its processing status, except FAILED, which is re-created.  A changed
    CONTENT_KEY is a changed association (its recipe call reads other bytes: a parent's parameters changed);
    an AB file written before content keys (none in it) gets the new key and keeps its status."""
    if old is None or old.process_status is ProcessStatus.FAILED:
        return new
    if old.content_key is None and new.content_key is not None:
        old = replace(old, content_key=new.content_key)
    if replace(old, process_status=ProcessStatus.CREATED) == new:
        return old
    return new


def _with_descendants(roots: set[str], abs_: Sequence[AB], done: Collection[str]) -> set[str]:
    """The roots and every DONE AB that waits for one of them, directly or not."""
    chosen = set(roots)
    grew = True
    while grew:
        grew = False
        for ab in abs_:
            if ab.name in done and ab.name not in chosen and chosen.intersection(ab.waitfor):
                chosen.add(ab.name)
                grew = True
    return chosen


def _superseded(made: Sequence[AB], existing: Mapping[str, AB], done: Collection[str],
                reopened: Collection[str], remade: Collection[str]) -> tuple[set[str], set[str]]:
    """(every AB to supersede, those among them that read a better calibration themselves)."""
    better = {ab.name for ab in made if ab.name in reopened and ab.name in existing
              and ab.completeness is Completeness.COMPLETE and calib_inputs(ab) != calib_inputs(existing[ab.name])}
    roots = better | {ab.name for ab in made if ab.name in reopened and ab.name in remade
                      and ab.completeness is Completeness.COMPLETE}
    return (_with_descendants(roots, made, done) if roots else set()), better


def reassociated(made: Sequence[AB], existing: Mapping[str, AB],
                 rejected: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The ABs whose file on disk reads a virtual product of a rejected AB and that the new association
    gives another input instead: AB -> one line per such input, for its association log.

    ``rejected`` maps each rejected AB to how it was rejected (``by anna at 2013-02-13T10:00:00: ...``).
    """
    found: dict[str, tuple[str, ...]] = {}
    for new in made:
        old = existing.get(new.name)
        if old is None:
            continue
        now = {c.tag: c for c in new.mcalib}
        lines = []
        for cal in old.mcalib:
            if not (cal.virtual and cal.producer in rejected):
                continue
            instead = now.get(cal.tag)
            if instead is not None and instead.sof_path == cal.sof_path:
                continue
            taken = f"now {instead.sof_path}" + (f" (made by {instead.producer})" if instead.virtual else "") \
                if instead is not None else "now none (nothing else qualifies)"
            lines.append(f"re-associated {cal.tag}: {PurePosixPath(cal.sof_path).name} made by {cal.producer} was "
                         f"rejected ({rejected[str(cal.producer)]}); {taken}")
        if lines:
            found[new.name] = tuple(lines)
    return found


def plan_update(made: Sequence[AB], existing: Mapping[str, AB], done_entries: Iterable[ABList],
                reopened: Collection[str] = (), rejected: Collection[str] = (),
                remade: Collection[str] = ()) -> UpdatePlan:
    """The plan for a batch: ``made`` are the ABs the association made (cascade order), ``existing`` the
    batch's ABs on disk, ``done_entries`` the AB list's lines tagged DONE, ``reopened`` the DONE ABs that
    were associated again (:attr:`Frozen.reopened`), ``rejected`` the ABs re-associated because a calibration
    they used was rejected (:func:`reassociated`; their supersession says so), ``remade`` the reopened ABs whose
    virtual input was made again after their own run (by an AB of another batch: a science AB's flat whose
    CALIB AB was superseded); they are superseded like the descendants of a superseded AB."""
    done_list = [entry for entry in done_entries if entry.done]
    done = {entry.name for entry in done_list}
    superseded, better = _superseded(made, existing, done, reopened, remade)
    final: list[AB] = []
    entries: list[ABList] = []
    write: list[AB] = []
    keep: list[str] = []
    supersede: list[Supersession] = []
    for new in made:
        if new.name in done and new.name not in superseded:  # never touched, even if its file has moved on
            keep.append(new.name)
            final.append(existing.get(new.name, new))
            entries.append(ABList.of(final[-1], done=True))
            continue
        if new.name in superseded and new.name in existing:
            reason = (CALIBRATION_REJECTED if new.name in rejected else BETTER_CALIBRATION) if new.name in better \
                else PARENT_SUPERSEDED
            supersede.append(Supersession(existing[new.name], new, reason))
        ab = new if new.name in superseded else carry_status(new, existing.get(new.name))
        write.append(ab)
        final.append(ab)
        entries.append(ABList.of(ab))
    names = {ab.name for ab in made}
    leftovers = [entry for entry in done_list if entry.name not in names]  # DONE, though no group makes them
    return UpdatePlan(
        abs=(*final, *(existing[e.name] for e in leftovers if e.name in existing)),
        write=tuple(write),
        keep=(*keep, *(e.name for e in leftovers)),
        supersede=tuple(supersede),
        remove=tuple(sorted(name for name in existing if name not in names and name not in done)),
        ab_list=(*entries, *leftovers),
        superseded=tuple(sorted(superseded)),
    )
