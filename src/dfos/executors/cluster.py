"""Cluster jobs: one batch job that runs several ABs of a cascade one after another (docs/batch.md, "Clusters").

A batch system costs about a second per job (its scheduler's cycle, a Python start); short ABs are many.
The cascade's dispatcher packs short ABs into clusters (:mod:`dfos.cascade.clusters`), and the batch executor
submits each cluster as one job running ``dfos --root WS process-cluster MANIFEST``.  Three small text
files, next to each other, carry what dfos and the job say to each other:

``<name>.cluster`` (the manifest, written by dfos before the job is submitted)::

    # dfos cluster job: the ABs it runs, in this order (docs/batch.md)
    cascade CALIB_2013-02-12
    ab C0.ab 1 1 processAB
    ab C1.ab 1 1 processAB C0.ab

  one ``ab`` line per AB: its name, attempt, threads, program, then its parents *in this job* (the job runs
  an AB only when those succeeded; parents outside the job had succeeded before it was submitted).

``<name>.cluster.progress`` (appended by the job, one line per step)::

    start C0.ab 1
    end C0.ab 1 ok 0 0.042
    skip C1.ab 1 a parent in this job did not succeed

``<name>.cluster.cancel`` (appended by dfos): ABs withdrawn from the job (a stop, a parent's retry); the
job skips them.  The job also skips everything left once the cascade's stop request exists.

:class:`ClusterJob` turns what the progress file says into one :class:`~dfos.executors.base.Outcome`
per AB, as soon as each AB ends, so a failure in a cluster is the failing AB's alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dfos.config.load import JobResources
from dfos.errors import FormatError
from dfos.executors.base import Handle, Outcome, Task
from dfos.executors.batch import request
from dfos.fsutil import write_text_atomic

__all__ = ["ClusterJob", "Manifest", "Member", "Progress", "manifest_of", "parse_manifest", "parse_progress",
           "render_manifest", "request_all"]

PROGRESS = ".progress"
CANCEL = ".cancel"


@dataclass(frozen=True)
class Member:
    """One AB of a cluster job."""

    ab: str
    attempt: int
    threads: int = 1
    program: str = "processAB"
    after: tuple[str, ...] = ()
    """Its parents in the same job (run before it)."""


@dataclass(frozen=True)
class Manifest:
    dag_id: str
    members: tuple[Member, ...]


def manifest_of(tasks: Sequence[Task]) -> Manifest:
    """The manifest of a cluster of tasks (in the order given: parents first)."""
    inside = {t.name for t in tasks}
    return Manifest(tasks[0].dag_id, tuple(
        Member(t.name, t.attempt, t.threads, t.argv[0] if t.argv else "processAB",
               tuple(p for p in t.after if p in inside)) for t in tasks))


def render_manifest(manifest: Manifest) -> str:
    lines = ["# dfos cluster job: the ABs it runs, in this order (docs/batch.md)", f"cascade {manifest.dag_id}"]
    lines += [" ".join(["ab", m.ab, str(m.attempt), str(m.threads), m.program, *m.after]) for m in manifest.members]
    return "\n".join(lines) + "\n"


def parse_manifest(text: str, source: str = "<manifest>") -> Manifest:
    dag_id = ""
    members = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "cascade" and len(words) == 2:
            dag_id = words[1]
        elif words[0] == "ab" and len(words) >= 5 and words[2].isdigit() and words[3].isdigit():
            members.append(Member(words[1], int(words[2]), int(words[3]), words[4], tuple(words[5:])))
        else:
            raise FormatError(f"{source}:{number}: not a line of a dfos cluster manifest: {line.strip()!r}")
    if not dag_id or not members:
        raise FormatError(f"{source}: a cluster manifest names its cascade and at least one AB")
    return Manifest(dag_id, tuple(members))


@dataclass
class Progress:
    """What a cluster job said so far: ABs started, ended (ok, exit code, seconds), skipped (why)."""

    started: set[str] = field(default_factory=set)
    ended: dict[str, tuple[bool, int | None, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def parse_progress(text: str) -> Progress:
    """A progress file; a line cut short (the job is writing it) is ignored until it is whole."""
    found = Progress()
    for line in text.splitlines(keepends=True):
        words = line.split()
        if not line.endswith("\n") or len(words) < 3:
            continue
        kind, ab = words[0], words[1]
        if kind == "start":
            found.started.add(ab)
        elif kind == "end" and len(words) >= 6:
            code = int(words[4]) if words[4].lstrip("-").isdigit() else None
            found.ended[ab] = (words[3] == "ok", code, float(words[5]))
        elif kind == "skip":
            found.skipped[ab] = " ".join(words[3:])
    return found


def request_all(resources: Mapping[str, JobResources], tasks: Sequence[Task]) -> JobResources:
    """What a cluster job asks for: the most CPUs and memory of its ABs, the sum of their minutes (none when one
    AB leaves it to the batch system)."""
    asks = [request(resources, t) for t in tasks]
    mems = [a.mem_mb for a in asks if a.mem_mb is not None]
    minutes = [a.minutes for a in asks]
    return JobResources(max(a.cpus for a in asks), max(mems) if mems else None,
                        None if None in minutes else sum(m or 0 for m in minutes))


@dataclass
class ClusterJob:
    """A submitted cluster job, followed by its progress file."""

    manifest: Path
    backend_id: str
    members: dict[str, int]
    """AB -> attempt, in the job's order."""
    open: set[str] = field(default_factory=set)
    """ABs whose end has not been reported."""
    started: set[str] = field(default_factory=set)
    withdrawn: set[str] = field(default_factory=set)

    @classmethod
    def write(cls, manifest: Path, tasks: Sequence[Task]) -> ClusterJob:
        """Write the manifest (and clear what an earlier job of that name said); the job is not yet submitted."""
        for suffix in (PROGRESS, CANCEL):
            manifest.with_name(manifest.name + suffix).unlink(missing_ok=True)
        write_text_atomic(manifest, render_manifest(manifest_of(tasks)))
        return cls(manifest, "", {t.name: t.attempt for t in tasks}, {t.name for t in tasks})

    @classmethod
    def read(cls, manifest: Path, backend_id: str, names: set[str]) -> ClusterJob:
        """An adopted job: the ABs ``names`` of its manifest are followed on."""
        members = {m.ab: m.attempt for m in parse_manifest(manifest.read_text(encoding="utf-8"), str(manifest)).members}
        return cls(manifest, backend_id, members, {n for n in names if n in members})

    def progress(self) -> Progress:
        try:
            return parse_progress(self.manifest.with_name(self.manifest.name + PROGRESS).read_text(encoding="utf-8"))
        except OSError:
            return Progress()

    def look(self, ended: bool, on_start: Callable[[Handle], None] | None) -> list[Outcome]:
        """The ABs that ended since the last look (``ended``: the job itself has; what it left undone never ran,
        or, when it started, is lost: its run record decides); those seen to start are told to ``on_start``."""
        seen = self.progress()
        for ab in sorted(seen.started - self.started, key=list(self.members).index):
            self.started.add(ab)
            if on_start and ab in self.open:
                on_start(Handle(ab, self.backend_id))
        outcomes = []
        for ab in [a for a in self.members if a in self.open]:
            outcome = self._outcome(ab, seen, ended)
            if outcome is not None:
                self.open.discard(ab)
                outcomes.append(outcome)
        return outcomes

    def _outcome(self, ab: str, seen: Progress, ended: bool) -> Outcome | None:
        job = self.backend_id
        if ab in seen.ended:
            ok, code, wall = seen.ended[ab]
            return Outcome(ab, ok, code, wall, "" if ok else "failed in its cluster job", job)
        if ab in seen.skipped:
            return Outcome(ab, False, None, 0.0, f"skipped in its cluster job: {seen.skipped[ab]}", job,
                           never_ran=True)
        if not ended:
            return None
        if ab in seen.started:
            return Outcome(ab, False, None, 0.0, f"cluster job {job} ended while it ran", job, lost=True)
        return Outcome(ab, False, None, 0.0, f"cluster job {job} ended before it ran", job, never_ran=True)

    def withdraw(self, names: set[str]) -> bool:
        """Ask the job to skip these ABs; True when nothing of it is left to run (the job may be cancelled)."""
        fresh = (names & self.open) - self.withdrawn
        if fresh:
            with self.manifest.with_name(self.manifest.name + CANCEL).open("a", encoding="utf-8") as out:
                out.write("".join(f"{n}\n" for n in sorted(fresh)))
            self.withdrawn |= fresh
        return not self.started and self.open <= self.withdrawn
