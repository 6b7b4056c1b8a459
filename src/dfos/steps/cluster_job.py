"""A cluster job's own work (``dfos process-cluster MANIFEST``): the ABs of its manifest, one after another.

Each AB runs exactly as a one-AB batch job runs it (:func:`~dfos.steps.cascade.run_cascade_ab`: its own
working directory, its own run record under its cascade and attempt), so a failure is that AB's alone.
Before each AB the job looks at what may keep it from starting, in this order: the cascade's stop request
(nothing new starts), dfos's withdrawal of the AB (``.cancel``), a parent in this job that did not succeed.
Every start, end and skip goes to the progress file at once (:mod:`dfos.executors.cluster`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from dfos.cascade.run import stop_requested
from dfos.executors.cluster import CANCEL, PROGRESS, Member, parse_manifest
from dfos.fsutil import read_utf8
from dfos.steps.cascade import run_cascade_ab, run_qc_task
from dfos.workspace import Workspace

__all__ = ["ClusterResult", "run_cluster"]


@dataclass(frozen=True)
class ClusterResult:
    ran: int
    failed: int
    skipped: int

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


def _say(progress: Path, *words: object) -> None:
    with progress.open("a", encoding="utf-8") as out:
        out.write(" ".join(str(w) for w in words) + "\n")


def _withdrawn(manifest: Path) -> set[str]:
    try:
        return set(manifest.with_name(manifest.name + CANCEL).read_text(encoding="utf-8").split())
    except FileNotFoundError:
        return set()


def _hindrance(workspace: Workspace, manifest: Path, dag_id: str, member: Member, succeeded: set[str]) -> str:
    """Why the AB must not start now ("" when it may)."""
    if stop_requested(workspace, dag_id):
        return "the cascade is being stopped"
    if member.ab in _withdrawn(manifest):
        return "withdrawn by dfos"
    if any(p not in succeeded for p in member.after):
        return "a parent in this job did not succeed"
    return ""


def _run_one(workspace: Workspace, dag_id: str, member: Member) -> tuple[bool, int | None]:
    try:
        if member.program == "processQC":
            ok, code, _ = run_qc_task(workspace, member.ab)
        else:
            ok, code, _ = run_cascade_ab(workspace, member.ab, dag_id, member.attempt, member.threads)
    except Exception:
        return False, None
    return ok, code


def run_cluster(workspace: Workspace, manifest: Path) -> ClusterResult:
    """Run the ABs of a cluster manifest in order; see the module docstring."""
    plan = parse_manifest(read_utf8(manifest), str(manifest))
    progress = manifest.with_name(manifest.name + PROGRESS)
    succeeded: set[str] = set()
    ran = failed = skipped = 0
    for member in plan.members:
        why = _hindrance(workspace, manifest, plan.dag_id, member, succeeded)
        if why:
            _say(progress, "skip", member.ab, member.attempt, why)
            skipped += 1
            continue
        _say(progress, "start", member.ab, member.attempt)
        began = time.monotonic()
        ok, code = _run_one(workspace, plan.dag_id, member)
        _say(progress, "end", member.ab, member.attempt, "ok" if ok else "failed", "-" if code is None else code,
             f"{time.monotonic() - began:.3f}")
        ran += 1
        if ok:
            succeeded.add(member.ab)
        else:
            failed += 1
    return ClusterResult(ran, failed, skipped)
