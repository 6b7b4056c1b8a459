"""Where an AB's inputs came from, and which of them a later rejection spoils (pure).

An input another AB made is an MCALIB line with ``by=<producer AB>`` (a virtual calibration of the
cascade).  When the producer's standing certification decision is a rejection, everything made with
that input is suspect: a SCIENCE product reduced with a flat that the QC scientist rejected the next
morning, or a flat made with a rejected dark.  :func:`trace_rejected` finds, for each AB, the inputs
whose producer, or any AB upstream of the producer, stands rejected.

The inputs an AB was processed with are those of its SOF (:func:`recipe_inputs`): an operator who
edited SOF_CONTENT may have dropped an MCALIB input.  What the AB files say is all that is known: an
upstream AB associated again after the rejection no longer names the rejected AB, so a product made
before that is no longer traced through it (its own AB, if it names the rejected AB itself, is).

Values only; reading the AB files and the certification decisions is
:mod:`dfos.steps.rejected_inputs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dfos.ab.model import AB, CalibInput

__all__ = ["RejectedInput", "Rejection", "recipe_inputs", "trace_rejected"]


@dataclass(frozen=True)
class Rejection:
    """The standing decision that rejected an AB (the newest row of ``certifications`` for it)."""

    ab: str
    by: str
    at: str
    comment: str = ""


@dataclass(frozen=True)
class RejectedInput:
    """An input of an AB that a rejected AB made, directly or through the ABs in ``via``."""

    tag: str
    """The input's SOF tag (``MASTER_IMG_FLAT``)."""
    file: str
    """The file the recipe read, as the AB file writes it (``$DFS_PRODUCT/...``)."""
    producer: str
    """The AB that made the input (``by=``)."""
    rejection: Rejection
    """The rejected AB and its decision: the producer itself, or an AB upstream of it."""
    via: tuple[str, ...] = ()
    """The ABs between the producer and the rejected AB, nearest the producer first (empty: the
    producer itself was rejected)."""

    def reason(self) -> str:
        """One line for people: which input, from which AB, rejected by whom (and why)."""
        chain = "".join(f", made with a product of {ab}" for ab in (*self.via, self.rejection.ab)
                        if ab != self.producer)
        why = f": {self.rejection.comment}" if self.rejection.comment else ""
        return (f"{self.tag} from {self.producer}{chain}; {self.rejection.ab} was rejected by "
                f"{self.rejection.by} at {self.rejection.at}{why}")

    def to_json(self) -> dict[str, object]:
        return {"tag": self.tag, "file": self.file, "producer": self.producer, "via": list(self.via),
                "rejected": self.rejection.ab, "rejected_by": self.rejection.by, "rejected_at": self.rejection.at,
                "comment": self.rejection.comment, "reason": self.reason()}


def recipe_inputs(ab: AB) -> tuple[CalibInput, ...]:
    """The MCALIB inputs the AB's recipe reads: those whose file is in the SOF processAB writes."""
    used = {path for path, _ in ab.sof}
    return tuple(cal for cal in ab.mcalib if cal.sof_path in used)


def _upstream(producer: str, inputs: Mapping[str, Sequence[CalibInput]], rejections: Mapping[str, Rejection],
              seen: frozenset[str]) -> list[tuple[tuple[str, ...], Rejection]]:
    """The rejected ABs at or upstream of ``producer``, each with the ABs between (nearest first)."""
    if producer in rejections:
        return [((), rejections[producer])]
    if producer in seen:  # a cycle in damaged AB files: nothing more to find on this path
        return []
    found: list[tuple[tuple[str, ...], Rejection]] = []
    for cal in inputs.get(producer, ()):
        if cal.producer:
            for via, rejection in _upstream(cal.producer, inputs, rejections, seen | {producer}):
                found.append(((() if rejection.ab == cal.producer else (cal.producer,)) + via, rejection))
    return found


def trace_rejected(inputs: Mapping[str, Sequence[CalibInput]], rejections: Mapping[str, Rejection],
                   names: Iterable[str]) -> dict[str, tuple[RejectedInput, ...]]:
    """For each AB of ``names``, its inputs made by a rejected AB or made with one upstream.

    ``inputs`` maps AB names to their recipe inputs (:func:`recipe_inputs`) for every AB that was read
    (the ABs of ``names`` and their producers, as far as they are known); ``rejections`` maps the
    ABs whose standing decision is a rejection to it.  ABs without such an input are left out.
    """
    traced: dict[str, tuple[RejectedInput, ...]] = {}
    for name in names:
        found: list[RejectedInput] = []
        for cal in inputs.get(name, ()):
            if not cal.producer:
                continue
            shown: set[str] = set()
            for via, rejection in _upstream(cal.producer, inputs, rejections, frozenset({name})):
                if rejection.ab not in shown:  # two paths to the same rejected AB: one line
                    shown.add(rejection.ab)
                    found.append(RejectedInput(cal.tag, cal.sof_path, cal.producer, rejection, via))
        if found:
            traced[name] = tuple(found)
    return traced
