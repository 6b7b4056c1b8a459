"""Parents in other cascades: what a cascade knows of them, and the rule that says when one ended.  Pure.

A SCIENCE AB takes virtual calibrations made by CALIB ABs of its night (its MCALIB lines carry
``by=<producing AB>``, its WAITFOR names the producer).  The SCIENCE and the CALIB cascades are run
apart, in either order, by this machine or a batch system: so a cascade whose AB waits for an AB of
another cascade (an *external* parent) never runs that parent, it watches it.  The runner looks at
every external parent some AB still waits for about once a second (its AB file, its rows in
``cascade_nodes``, its newest certification decision) and :func:`judge_external` says:

* **succeeded**: its AB file says SUCCESSFUL and its row in its own cascade (``<batch>`` or the
  subcascade ``<batch>_sub``), if any, is ``succeeded``;
* **failed** (its children are blocked, with the reason): it was rejected at certification, it is
  INCOMPLETE, its AB file is gone, or its cascade row ended ``failed``, ``blocked`` or ``incomplete``;
* otherwise (waiting, submitted, running, not queued yet) the children keep waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dfos.ab.model import ProcessStatus
from dfos.cascade.scheduler import NodeState
from dfos.errors import FormatError
from dfos.keys import BatchId, Mode

__all__ = ["REJECTED", "External", "ExternalState", "Sighting", "awaiting_text", "judge_external", "waiting_reason"]

#: The certification decision that takes a calibration out of use (``certifications.decision``).
REJECTED = "rejected"

_IN_FLIGHT = {NodeState.SUBMITTED.value, NodeState.RUNNING.value}
_ENDED = {NodeState.FAILED.value: "failed", NodeState.BLOCKED.value: "was blocked",
          NodeState.INCOMPLETE.value: "is incomplete"}


def _batch(text: str) -> BatchId | None:
    try:
        return BatchId.parse(text)
    except FormatError:
        return None


@dataclass(frozen=True)
class External:
    """An AB of another cascade that ABs of this one wait for."""

    name: str
    batch: str
    """Its batch id (``CALIB_2013-02-12``): the cascade that runs it."""
    consumer: str
    """The batch id of the ABs that wait for it (``SCIENCE_2013-02-12``)."""

    @property
    def cascades(self) -> tuple[str, ...]:
        """The cascades whose rows tell its state: its batch's, and the batch's subcascade."""
        batch = _batch(self.batch)
        if batch is None:
            return (self.batch,)
        return (batch.base.render(), BatchId(batch.mode, batch.key, sub=True).render())

    @property
    def kind(self) -> str:
        """How reasons call it: a calibration (an AB of a CALIB batch), else a parent."""
        batch = _batch(self.batch)
        return "calibration" if batch is not None and batch.mode is Mode.CALIB else "parent"

    @property
    def reassociate(self) -> str:
        """The command that associates the waiting ABs anew."""
        consumer = _batch(self.consumer)
        if consumer is None:
            return "'dfos create-ab'"
        return f"'dfos create-ab -m {consumer.mode.value} -d {consumer.key.text}'"

    @property
    def requeue(self) -> str:
        """The command that queues the waiting ABs anew."""
        consumer = _batch(self.consumer)
        if consumer is None:
            return "'dfos create-job'"
        return f"'dfos create-job -m {consumer.mode.value} -d {consumer.key.text}'"


@dataclass(frozen=True)
class Sighting:
    """What was seen of an external parent at one look."""

    status: ProcessStatus | None
    """Its AB file's PROCESS_STATUS; None when its AB file is gone."""
    complete: bool = True
    rows: Mapping[str, str] | None = None
    """Its state in each of its own cascades that has a row of it (cascade id -> ``cascade_nodes.state``)."""
    decision: str | None = None
    """Its newest certification decision (``certified``, ``rejected``, ...), if any."""


@dataclass(frozen=True)
class ExternalState:
    """The judgement on an external parent: ``succeeded`` None while it has not ended."""

    succeeded: bool | None
    reason: str = ""
    """Why its children are blocked (when it failed)."""


WAIT = ExternalState(None)


def judge_external(parent: External, seen: Sighting) -> ExternalState:
    """Succeeded, failed (with the reason its children are blocked) or not ended yet; see the module docstring."""
    what = f"its {parent.kind} {parent.name}"
    if seen.status is None:
        return ExternalState(False, f"{what} is no longer an AB: re-associate with {parent.reassociate}")
    if seen.decision == REJECTED:
        return ExternalState(False, f"{what} was rejected: re-associate with {parent.reassociate}")
    if not seen.complete:
        return ExternalState(False, f"{what} is INCOMPLETE, it never runs: re-associate with {parent.reassociate}")
    rows = dict(seen.rows or {})
    states = set(rows.values())
    if states & _IN_FLIGHT:
        return WAIT
    if seen.status is ProcessStatus.SUCCESSFUL and (not rows or NodeState.SUCCEEDED.value in states):
        return ExternalState(True)
    if NodeState.WAITING.value in states:
        return WAIT
    for cascade, state in rows.items():
        if state in _ENDED:
            return ExternalState(False, f"{what} {_ENDED[state]} in cascade {cascade}: once it succeeded, queue "
                                        f"again with {parent.requeue}")
    return WAIT


def waiting_reason(parents: Sequence[External]) -> str | None:
    """What an AB waits for (``cascade_nodes.reason`` of a waiting AB): ``waiting for calibrations A, B of
    CALIB_2013-02-12``; None when it waits for nothing outside."""
    if not parents:
        return None
    parts = [f"{some[0].kind}{'s' if len(some) > 1 else ''} {', '.join(p.name for p in some)} of {batch}"
             for batch, some in _by_batch(parents).items()]
    return "waiting for " + "; ".join(parts)


def _by_batch(parents: Iterable[External]) -> dict[str, list[External]]:
    found: dict[str, list[External]] = {}
    for parent in parents:
        found.setdefault(parent.batch, []).append(parent)
    return found


def awaiting_text(parents: Iterable[External]) -> str:
    """The progress line's words for the external parents still waited for, by cascade:
    ``waiting for 2 calibration ABs of CALIB_2013-02-12`` ('' for none)."""
    parts = [f"{len(some)} {some[0].kind} AB{'s' if len(some) != 1 else ''} of {batch}"
             for batch, some in _by_batch(parents).items()]
    return "waiting for " + ", ".join(parts) if parts else ""
