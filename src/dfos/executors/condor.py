"""The HTCondor executor: a cascade becomes a DAGMan DAG, submitted with ``condor_submit_dag``.

Every round of submissions (the whole cascade at first; later only ABs sent again) is one DAG
``$DFO_JOB_DIR/batch/<cascade>.r<N>.dag``: a node per AB (``VARS`` carry the AB, its attempt and
its dfos arguments), ``PARENT/CHILD`` from the cascade, ``CATEGORY``/``MAXJOBS`` from
RECIPE_LIMITS, and a node status file DAGMan rewrites at most every second.  No ``RETRY``: the
cascade runner decides retries the same way for every executor and submits a retried AB (and
what depends on it) in a new round.  The DAG is validated by our own model
(:mod:`dfos.executors.condor_dag`) before DAGMan sees it.

The executor follows each round's node status file: DONE is success, ERROR failure, FUTILE (a
parent failed, so DAGMan never ran it) is reported as never run and the runner marks it blocked.
A node still waiting when its DAGMan is gone (``condor_q`` no longer lists it: halted by
``stop-cascade``, removed) never ran either.  ``stop-cascade`` halts the rounds (the DAG's
``.halt`` file): running nodes finish, nothing new starts, DAGMan writes its rescue DAG;
``stop-cascade --now`` (:meth:`CondorExecutor.abort`) halts them and removes their node jobs with
``condor_rm``.  A
restarted dfos adopts the rounds by their DAGMan cluster ids (``<cluster>/<node>``, the backend id
stored for each AB); when exactly the ABs a rescue DAG left undone are to run again, the round's
DAG file is submitted again and DAGMan runs it from its rescue DAG.

Every ``condor_*`` command gets CONDOR_COMMAND in front of it (e.g. a ``chroot`` into the pool);
arguments are lists, never shell strings.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import ClassVar

from dfos.config.load import JobResources
from dfos.errors import ExternalToolError, UsageError
from dfos.executors.base import Executor, Handle, Outcome, Task
from dfos.executors.batch import Pacer, Runner, dfos_arguments, request, run_command
from dfos.executors.cluster import ClusterJob, request_all
from dfos.executors.condor_dag import Dag, DagNode, node_name, parse_dag, render_dag, rescued
from dfos.fsutil import write_text_atomic

__all__ = ["CondorExecutor", "NodeStatus", "condor_arguments", "parse_node_status"]

class NodeStatus(IntEnum):
    """DAGMan's node states (NODE_STATUS_FILE ``NodeStatus``)."""

    NOT_READY = 0
    READY = 1
    PRERUN = 2
    SUBMITTED = 3
    POSTRUN = 4
    DONE = 5
    ERROR = 6
    FUTILE = 7

    @classmethod
    def of(cls, ad: Mapping[str, str]) -> NodeStatus:
        """A node's state from its ad; NOT_READY when the ad says none this dfos knows."""
        try:
            return cls(int(ad.get("NodeStatus", "")))
        except ValueError:
            return cls.NOT_READY


NOT_READY, READY, PRERUN, SUBMITTED, POSTRUN, DONE, ERROR, FUTILE = NodeStatus
#: The states of a node whose job has started (or ended).
_STARTED = frozenset({NodeStatus.SUBMITTED, NodeStatus.POSTRUN, NodeStatus.DONE, NodeStatus.ERROR})

_SUBMITTED_TO = re.compile(r"submitted to cluster (\d+)")


_BLOCK = re.compile(r"\[([^\[\]]*)\]")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[{};]|[^"{};]+')
_KEY = re.compile(r"\w+")


def _uncommented(block: str) -> str:
    """The block without its ``/* ... */`` comments (an unclosed one is kept as it is)."""
    parts = block.split("/*")
    kept = [parts[0]]
    for part in parts[1:]:
        end = part.find("*/")
        kept.append(part[end + 2 :] if end >= 0 else "/*" + part)
    return "".join(kept)


def _attributes(block: str) -> dict[str, str]:
    """The ``Key = value;`` statements of a ClassAd block (a ``;`` inside quotes or braces ends none)."""
    ad: dict[str, str] = {}
    statement: list[str] = []
    depth = 0
    for token in _TOKEN.findall(block):
        if token == ";" and depth == 0:
            key, equals, value = "".join(statement).partition("=")
            key = key.strip()
            if equals and _KEY.fullmatch(key):
                ad[key] = value.strip().strip('"')
            statement = []
            continue
        depth += 1 if token == "{" else -1 if token == "}" and depth else 0
        statement.append(token)
    return ad


def parse_node_status(text: str) -> dict[str, dict[str, str]]:
    """A node status file as ``{node: {attribute: value}}``; the DAG's own ad is under ``""``.

    Linear in the size of the text, whatever it holds (no pattern here backtracks over the rest of it).
    """
    ads: dict[str, dict[str, str]] = {}
    for block in _BLOCK.findall(text):
        ad = _attributes(_uncommented(block))
        kind = ad.get("Type")
        if kind == "NodeStatus" and "Node" in ad:
            ads[ad["Node"]] = ad
        elif kind == "DagStatus":
            ads[""] = ad
    return ads


def condor_arguments(words: Sequence[str]) -> str:
    """HTCondor's argument syntax: the whole list in double quotes, each word in single quotes."""
    for word in words:
        if '"' in word or "\n" in word:
            raise UsageError(f"cannot pass {word!r} to an HTCondor job (a double quote or a newline)")
    return " ".join("'" + w.replace("'", "''") + "'" for w in words)


@dataclass
class _Round:
    """One submitted DAG."""

    dag_file: Path
    cluster: str
    nodes: dict[str, tuple[str, int]]
    """Node -> (AB, attempt)."""
    open: set[str] = field(default_factory=set)
    """Nodes whose end has not been reported."""
    started: set[str] = field(default_factory=set)
    halted: bool = False
    groups: dict[str, ClusterJob] = field(default_factory=dict)
    """Node -> the cluster job it is (its ABs followed through its progress file)."""


class CondorExecutor(Executor):
    """See the module docstring."""

    name: ClassVar[str] = "condor"
    batch: ClassVar[bool] = True
    clusters: ClassVar[bool] = True

    def __init__(self, prefix: Sequence[str], command: Sequence[str], job_dir: Path,
                 resources: Mapping[str, JobResources], limits: Mapping[str, int] | None = None,
                 poll_interval: float = 1.0, run: Runner = run_command) -> None:
        """``prefix``: CONDOR_COMMAND; ``command``: the dfos program on the nodes with ``--root``."""
        self.prefix = list(prefix)
        self.command = list(command)
        self.job_dir = job_dir
        self.resources = dict(resources)
        self.limits = dict(limits or {})
        self.run = run
        self.pending: list[tuple[Task, Callable[[Handle], None] | None]] = []
        self.held: list[tuple[Task, Callable[[Handle], None] | None]] = []
        self.pending_groups: list[tuple[tuple[Task, ...], Callable[[Handle], None] | None]] = []
        self.rounds: dict[str, _Round] = {}
        self.callbacks: dict[str, Callable[[Handle], None] | None] = {}
        self.pacer = Pacer(poll_interval)

    # -- commands ----------------------------------------------------------------------------
    def _call(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        try:
            return self.run([*self.prefix, *argv])
        except FileNotFoundError:
            raise ExternalToolError(f"{(self.prefix or argv)[0]} is not installed here: the HTCondor executor needs "
                            f"the HTCondor commands (or CONDOR_COMMAND to reach them)") from None
        except subprocess.TimeoutExpired:
            raise ExternalToolError(f"{argv[0]} did not answer within 300 s; is the HTCondor pool up?") from None

    def _submit_file(self) -> Path:
        path = self.job_dir / "dfos_condor.sub"
        text = "\n".join([
            "# HTCondor submit file written by dfos: one AB per job (its VARS come from the DAG)",
            "universe = vanilla",
            f"executable = {self.command[0]}",
            'arguments = "$(dfos_args)"',
            "getenv = True",
            "request_cpus = $(cpus)",
            "request_memory = $(mem)",
            "output = $(out)",
            "error = $(out)",
            '+DfosAB = "$(ab)"',
            "+DfosAttempt = $(attempt)",
            "queue",
        ]) + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            write_text_atomic(path, text)
        return path

    # -- submitting ---------------------------------------------------------------------------
    def submit(self, task: Task, on_start: Callable[[Handle], None] | None = None) -> Handle:
        self.pending.append((task, on_start))
        return Handle(task.name, "")

    def submit_cluster(self, tasks: Sequence[Task], on_start: Callable[[Handle], None] | None = None) -> list[Handle]:
        """One DAG node running ``process-cluster`` over a manifest of the tasks (in the next round)."""
        self.pending_groups.append((tuple(tasks), on_start))
        return [Handle(t.name, "") for t in tasks]

    def cluster_of(self, name: str) -> str:
        return next((job.manifest.name.removesuffix(".cluster") for r in self.rounds.values()
                     for job in r.groups.values() if name in job.open), "")

    def _live(self) -> set[str]:
        """The ABs in a submitted round whose end is not yet reported."""
        return {r.nodes[n][0] for r in self.rounds.values() for n in r.open if n not in r.groups} | \
            {ab for r in self.rounds.values() for job in r.groups.values() for ab in job.open}

    def flush(self) -> list[Handle]:
        if not self.pending and not self.held and not self.pending_groups:
            return []
        groups, self.pending_groups = self.pending_groups, []
        batch, self.pending = self.held + self.pending, []
        self.held = []
        live = self._live()
        now: list[tuple[Task, Callable[[Handle], None] | None]] = []
        waiting: set[str] = set()
        for task, callback in batch:  # parents first: a task behind a parent of an earlier round waits
            if any(p in live or p in waiting for p in task.after):
                waiting.add(task.name)
                self.held.append((task, callback))
            else:
                now.append((task, callback))
        return self._round(now, groups) if now or groups else []

    def _round(self, tasks: list[tuple[Task, Callable[[Handle], None] | None]],
               groups: list[tuple[tuple[Task, ...], Callable[[Handle], None] | None]]) -> list[Handle]:
        self.job_dir.mkdir(parents=True, exist_ok=True)
        dag_id = (tasks[0][0] if tasks else groups[0][0][0]).dag_id
        again = None if groups else self._rescue_round(dag_id, {(t.name, t.attempt) for t, _ in tasks})
        jobs: dict[str, ClusterJob] = {}
        if again is not None:  # DAGMan starts from the rescue DAG (the halt that ended it is taken back)
            dag_file, nodes = again
            dag_file.with_name(dag_file.name + ".halt").unlink(missing_ok=True)
            dag_file.with_name(dag_file.name + ".status").unlink(missing_ok=True)  # the last run's states
        else:
            dag_file, nodes, jobs = self._write_dag(dag_id, [t for t, _ in tasks], [g for g, _ in groups])
        done = self._call(["condor_submit_dag", "-batch-name", dag_id, "-notification", "never", str(dag_file)])
        found = _SUBMITTED_TO.search(done.stdout)
        if done.returncode != 0 or not found:
            reason = ((done.stderr or done.stdout).strip().splitlines() or ["no cluster id"])[-1]
            raise ExternalToolError(f"condor_submit_dag refused {dag_file.name}: {reason.strip()[:300]}")
        cluster = found.group(1)
        by_ab = {ab: node for node, (ab, _) in nodes.items() if node not in jobs}
        self.rounds[cluster] = _Round(dag_file, cluster, nodes, open={by_ab[t.name] for t, _ in tasks} | set(jobs),
                                      groups=jobs)
        with (self.job_dir / f"{_stem(dag_id)}.rounds").open("a", encoding="utf-8") as index:
            index.write(f"{cluster} {dag_file.name}\n")
        for task, callback in tasks:
            self.callbacks[f"{cluster}/{by_ab[task.name]}"] = callback
        handles = [Handle(t.name, f"{cluster}/{by_ab[t.name]}") for t, _ in tasks]
        for (_, callback), (node, job) in zip(groups, jobs.items(), strict=True):
            job.backend_id = f"{cluster}/{node}"
            self.callbacks[job.backend_id] = callback
            handles += [Handle(ab, job.backend_id, job.manifest.name.removesuffix(".cluster")) for ab in job.members]
        return handles

    def _cluster_nodes(self, stem: str, n: int, groups: list[tuple[Task, ...]], taken: set[str]
                       ) -> tuple[list[DagNode], dict[str, ClusterJob]]:
        """A DAG node per cluster (``process-cluster`` over its manifest); no parents, no children."""
        nodes, jobs = [], {}
        for i, tasks in enumerate(groups, start=1):
            node = node_name(f"k{i}", taken)
            job = ClusterJob.write(self.job_dir / f"{stem}.r{n}.{node}.cluster", tasks)
            want = request_all(self.resources, tasks)
            words = [*self.command[1:], "process-cluster", str(job.manifest)]
            nodes.append(DagNode(node, job.manifest.name, category="cluster", vars=(
                ("attempt", "0"), ("dfos_args", condor_arguments(words)), ("cpus", str(want.cpus)),
                ("mem", str(want.mem_mb or 512)), ("out", str(job.manifest.with_suffix(".out"))),
                ("cluster", "yes"))))
            jobs[node] = job
        return nodes, jobs

    def _write_dag(self, dag_id: str, tasks: list[Task], groups: Sequence[tuple[Task, ...]] = ()
                   ) -> tuple[Path, dict[str, tuple[str, int]], dict[str, ClusterJob]]:
        stem = _stem(dag_id)
        n = 1
        while (self.job_dir / f"{stem}.r{n}.dag").exists():
            n += 1
        dag_file = self.job_dir / f"{stem}.r{n}.dag"
        taken: set[str] = set()
        names = {t.name: node_name(t.name, taken) for t in tasks}
        nodes, limits = [], {}
        for task in tasks:
            want = request(self.resources, task)
            words = [*self.command[1:], *dfos_arguments(task, want.cpus)]
            category = re.sub(r"[^A-Za-z0-9_]", "_", task.category) or "recipe"
            if task.category in self.limits:
                limits[category] = self.limits[task.category]
            out = self.job_dir / f"{stem}.{names[task.name]}.{task.attempt}.out"
            nodes.append(DagNode(names[task.name], task.name, tuple(names[p] for p in task.after if p in names),
                                 category=category,
                                 vars=(("attempt", str(task.attempt)), ("dfos_args", condor_arguments(words)),
                                       ("cpus", str(want.cpus)), ("mem", str(want.mem_mb or 512)),
                                       ("out", str(out)))))
        extra, jobs = self._cluster_nodes(stem, n, list(groups), taken)
        nodes += extra
        dag = Dag(tuple(nodes), str(self._submit_file()), tuple(sorted(limits.items())),
                  f"{dag_file}.status", status_interval=1)
        write_text_atomic(dag_file, render_dag(dag))
        return dag_file, {node.name: (node.ab, int(dict(node.vars)["attempt"])) for node in nodes}, jobs

    def _rescue_round(self, dag_id: str,
                      wanted: set[tuple[str, int]]) -> tuple[Path, dict[str, tuple[str, int]]] | None:
        """An ended round of this cascade (listed in ``<cascade>.rounds``, by this or an earlier dfos) whose
        newest rescue DAG leaves undone exactly ``wanted`` (AB, attempt): its DAG is submitted again."""
        live = {r.dag_file.name for r in self.rounds.values() if r.open}
        for dag_file in reversed(self._round_files(dag_id)):
            rescues = sorted(dag_file.parent.glob(dag_file.name + ".rescue[0-9][0-9][0-9]"))
            if dag_file.name in live or not rescues:
                continue
            done = rescued(rescues[-1].read_text(encoding="utf-8"))
            nodes = _members(dag_file)
            if {v for n, v in nodes.items() if n not in done} == wanted:
                return dag_file, nodes
        return None

    def _round_files(self, dag_id: str) -> list[Path]:
        """The DAG files of this cascade's rounds, oldest first."""
        index = self.job_dir / f"{_stem(dag_id)}.rounds"
        try:
            lines = index.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        files = [self.job_dir / line.split()[1] for line in lines if len(line.split()) == 2]
        return [f for f in dict.fromkeys(files) if f.exists()]

    def adopt(self, handles: Iterable[Handle]) -> set[str]:
        """Follow the rounds an earlier dfos submitted (their DAG files are listed in ``<cascade>.rounds``)."""
        wanted: dict[str, list[tuple[str, str]]] = {}
        for handle in handles:
            cluster, _, node = handle.backend_id.partition("/")
            if cluster.isdigit() and node:
                wanted.setdefault(cluster, []).append((node, handle.name))
        taken: set[str] = set()
        files = self._round_index()
        for cluster, names in wanted.items():
            if cluster not in files or not (self.job_dir / files[cluster]).exists():
                continue
            dag_file = self.job_dir / files[cluster]
            members = _members(dag_file)
            grouped = _cluster_nodes(dag_file)
            known = {node for node, ab in names if node not in grouped and members.get(node, ("", 0))[0] == ab}
            jobs = {node: ClusterJob.read(self.job_dir / members[node][0], f"{cluster}/{node}",
                                          {ab for n, ab in names if n == node})
                    for node in grouped if any(n == node for n, _ in names)}
            self.rounds[cluster] = _Round(dag_file, cluster, members, open=known | set(jobs), groups=jobs)
            taken.update(members[n][0] for n in known)
            taken.update(ab for job in jobs.values() for ab in job.open)
        return taken

    # -- following ---------------------------------------------------------------------------------
    def poll(self, timeout: float | None = None) -> list[Outcome]:
        active = [r for r in self.rounds.values() if r.open]
        if not active:
            time.sleep(timeout or 0.0)
            return []
        if not self.pacer.due(timeout):
            return []
        queued = self._call(["condor_q", *[r.cluster for r in active], "-af", "ClusterId"])
        alive = set(queued.stdout.split()) if queued.returncode == 0 else {r.cluster for r in active}
        return [outcome for r in active for outcome in self._follow(r, gone=r.cluster not in alive)]

    def _follow(self, r: _Round, gone: bool) -> list[Outcome]:
        """The nodes of a round that ended since the last look (``gone``: its DAGMan is no more); those seen to
        start are reported to their callbacks."""
        status = r.dag_file.with_name(r.dag_file.name + ".status")
        try:
            ads = parse_node_status(status.read_text(encoding="utf-8"))
        except OSError:
            ads = {}
        ended: list[Outcome] = []
        for node in sorted(r.open):
            ad = ads.get(node, {})
            state = NodeStatus.of(ad)
            handle_id = f"{r.cluster}/{node}"
            if node in r.groups:  # a cluster job: its ABs, from its progress file
                over = gone or state in (NodeStatus.DONE, NodeStatus.ERROR, NodeStatus.FUTILE)
                ended += r.groups[node].look(over, self.callbacks.get(handle_id))
                if over:
                    r.open.discard(node)
                    self.callbacks.pop(handle_id, None)
                continue
            if state in _STARTED and node not in r.started:
                r.started.add(node)
                callback = self.callbacks.get(handle_id)
                if callback:
                    callback(Handle(r.nodes[node][0], handle_id))
            outcome = _node_outcome(r, node, ad, state, gone)
            if outcome is not None:
                r.open.discard(node)
                self.callbacks.pop(handle_id, None)
                ended.append(outcome)
        return ended

    def cancel(self, handles: Iterable[Handle]) -> None:
        """Halt every round all of whose unstarted nodes are cancelled (nothing new starts, running nodes
        finish); a node of a round that goes on is left to DAGMan (it is futile: its parent failed).
        A task not yet in any DAG is dropped."""
        handles = list(handles)
        asked: dict[str, set[str]] = {}
        unsent: set[str] = set()
        for handle in handles:
            if not handle.backend_id:  # still with dfos (waiting for a parent of an earlier round)
                unsent.add(handle.name)
                continue
            cluster, _, node = handle.backend_id.partition("/")
            asked.setdefault(cluster, set()).add(node)
        self.held = [(t, c) for t, c in self.held if t.name not in unsent]
        self.pending = [(t, c) for t, c in self.pending if t.name not in unsent]
        self.pending_groups = [(g, c) for g, c in self.pending_groups if not {t.name for t in g} <= unsent]
        for cluster, nodes in asked.items():
            r = self.rounds.get(cluster)
            if r is None or r.halted:
                continue
            for node in nodes & set(r.groups):  # a cluster job skips its ABs withdrawn
                if r.groups[node].withdraw({h.name for h in handles if h.backend_id == f"{cluster}/{node}"}):
                    nodes = nodes | {node}
                else:
                    nodes = nodes - {node}
            if (r.open - r.started) <= nodes:
                r.dag_file.with_name(r.dag_file.name + ".halt").touch()
                r.halted = True

    # -- stop-cascade --now -------------------------------------------------------------------------------
    def abort(self, handles: Iterable[Handle], wait: float = 60.0) -> None:
        """``stop-cascade --now``, from any dfos: the rounds of these tasks are halted (DAGMan submits nothing
        more) and their node jobs still in the queue, running or idle, removed with ``condor_rm``; returns once
        neither they nor their DAGMans are in the queue (a halted DAGMan whose jobs are gone writes its rescue DAG
        and exits).  Jobs still ``removed`` after ``wait`` seconds are forced out (``condor_rm -forcex``), a
        DAGMan still there is removed (it removes its jobs and writes its rescue DAG)."""
        dagmans = sorted({cluster for cluster, _, node in (h.backend_id.partition("/") for h in handles)
                          if cluster.isdigit() and node}, key=int)
        if not dagmans:
            return
        files = self._round_index()
        for cluster in dagmans:
            if cluster in files:
                (self.job_dir / (files[cluster] + ".halt")).touch()
            if cluster in self.rounds:
                self.rounds[cluster].halted = True
        removed: set[str] = set()
        deadline, forced = time.monotonic() + wait, False
        while queued := self._dag_jobs(dagmans):
            overdue = time.monotonic() > deadline
            if overdue and forced:
                raise ExternalToolError(f"HTCondor jobs {', '.join(sorted(queued))} are still in the queue "
                                        f"{2 * wait:.0f} s after condor_rm")
            fresh = sorted(job for job, (status, node) in queued.items()
                           if node and job not in removed and status != _REMOVED)
            if fresh:  # condor_rm answers 1 when one of them left the queue meanwhile: the next look tells
                self._call(["condor_rm", *fresh])
                removed.update(fresh)
            elif overdue:
                self._force(queued)
                deadline, forced = time.monotonic() + wait, True
            time.sleep(self.pacer.interval)

    def _force(self, queued: Mapping[str, tuple[int, bool]]) -> None:
        """What stays in the queue: node jobs stuck as removed forced out, DAGMans removed."""
        stuck = sorted(job for job, (status, node) in queued.items() if node and status == _REMOVED)
        dagmans = sorted(job for job, (status, node) in queued.items() if not node and status != _REMOVED)
        if stuck:
            self._call(["condor_rm", "-forcex", *stuck])
        if dagmans:
            self._call(["condor_rm", *dagmans])

    def _dag_jobs(self, dagmans: Sequence[str]) -> dict[str, tuple[int, bool]]:
        """The DAGMans ``dagmans`` and their node jobs in the queue: job id -> (JobStatus, is a node job)."""
        constraint = " || ".join(f"ClusterId == {c} || DAGManJobId == {c}" for c in dagmans)
        found = self._call(["condor_q", "-constraint", constraint, "-af", "ClusterId", "ProcId", "JobStatus",
                            "DAGManJobId"])
        if found.returncode != 0:
            reason = ((found.stderr or found.stdout).strip().splitlines() or ["no answer"])[-1]
            raise ExternalToolError(f"condor_q failed: {reason.strip()[:300]}")
        jobs = {}
        for line in found.stdout.splitlines():
            words = line.split()
            if len(words) == 4 and words[0].isdigit() and words[1].isdigit() and words[2].isdigit():
                jobs[f"{words[0]}.{words[1]}"] = (int(words[2]), words[3].isdigit())
        return jobs

    def _round_index(self) -> dict[str, str]:
        """DAGMan cluster -> the DAG file (name) of every round in the ``<cascade>.rounds`` files."""
        return {line.split()[0]: line.split()[1]
                for index in self.job_dir.glob("*.rounds")
                for line in index.read_text(encoding="utf-8").splitlines() if len(line.split()) == 2}


#: HTCondor's JobStatus of a removed job (it leaves the queue once its shadow has cleaned up).
_REMOVED = 3


def _node_outcome(r: _Round, node: str, ad: Mapping[str, str], state: NodeStatus, gone: bool) -> Outcome | None:
    """How a node of a round ended; None while it has not."""
    ab, handle_id = r.nodes[node][0], f"{r.cluster}/{node}"
    if state is NodeStatus.DONE:
        return Outcome(ab, True, 0, 0.0, "", handle_id)
    if state is NodeStatus.ERROR:
        return Outcome(ab, False, None, 0.0, ad.get("StatusDetails") or "DAGMan node failed", handle_id)
    if state is NodeStatus.FUTILE:
        return Outcome(ab, False, None, 0.0, "futile: a parent failed", handle_id, never_ran=True)
    if gone:  # DAGMan ended (halted, removed) before the node ran, or while it ran
        ran = node in r.started
        message = f"DAGMan {r.cluster} ended before this node " + ("ended" if ran else "ran")
        return Outcome(ab, False, None, 0.0, message, handle_id, never_ran=not ran, lost=ran)
    return None


def _members(dag_file: Path) -> dict[str, tuple[str, int]]:
    """Node -> (AB, attempt) of a DAG dfos wrote."""
    dag = parse_dag(dag_file.read_text(encoding="utf-8"), str(dag_file))
    return {n.name: (n.ab, int(dict(n.vars).get("attempt", "1"))) for n in dag.nodes}


def _cluster_nodes(dag_file: Path) -> set[str]:
    """The nodes of a DAG dfos wrote that are cluster jobs."""
    dag = parse_dag(dag_file.read_text(encoding="utf-8"), str(dag_file))
    return {n.name for n in dag.nodes if dict(n.vars).get("cluster") == "yes"}


def _stem(dag_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", dag_id)
