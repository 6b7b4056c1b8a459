"""An HTCondor DAGMan description of a cascade, as data: validate, render, parse back.

HTCondor's own tools accept cycles, undefined parents and duplicate nodes until DAGMan runs, so
dfos validates its model first.  A node per AB; its DAGMan name is the AB name with every
character outside ``[A-Za-z0-9._-]`` replaced by ``_`` (made unique), and the AB itself travels
in ``VARS <node> ab="<AB>"``.  Written lines: ``JOB``, ``VARS``, ``RETRY``, ``CATEGORY``,
``MAXJOBS``, ``PARENT ... CHILD ...``, ``NODE_STATUS_FILE``.  A rescue DAG's ``DONE`` lines are read
by :func:`rescued`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from dfos.errors import FormatError

__all__ = ["Dag", "DagNode", "node_name", "parse_dag", "render_dag", "rescued", "submit_text", "validate"]

_KEYWORDS = {"parent", "child"}
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def node_name(ab: str, taken: set[str]) -> str:
    """The DAGMan node name of an AB (unique among ``taken``, which it joins)."""
    base = _SAFE.sub("_", ab) or "node"
    name, n = base, 1
    while name in taken or name.lower() in _KEYWORDS:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


@dataclass(frozen=True)
class DagNode:
    name: str
    ab: str
    parents: tuple[str, ...] = ()
    """Node names."""
    retry: int = 0
    category: str | None = None
    vars: tuple[tuple[str, str], ...] = ()
    """More VARS of this node (a second VARS line)."""


@dataclass(frozen=True)
class Dag:
    nodes: tuple[DagNode, ...]
    submit_file: str
    maxjobs: tuple[tuple[str, int], ...] = ()
    node_status_file: str | None = None
    extra_vars: tuple[tuple[str, str], ...] = field(default=())
    """VARS every node gets (e.g. the cascade id)."""
    status_interval: int = 5
    """Seconds at least between two rewrites of the node status file."""
    notes: tuple[str, ...] = ()
    """Comment lines after the first (e.g. parents in other cascades that DAGMan cannot see)."""


def validate(dag: Dag) -> list[str]:
    """What DAGMan would trip over, in words (empty: fine)."""
    problems = []
    seen: set[str] = set()
    for node in dag.nodes:
        if node.name in seen:
            problems.append(f"node {node.name} is defined twice")
        seen.add(node.name)
        if not node.name or _SAFE.search(node.name) or node.name.lower() in _KEYWORDS:
            problems.append(f"node name {node.name!r} is not usable by DAGMan")
        if node.retry < 0:
            problems.append(f"node {node.name}: RETRY must be 0 or more")
        if '"' in node.ab or "\n" in node.ab:
            problems.append(f"node {node.name}: AB name {node.ab!r} cannot be quoted")
        for key, value in node.vars:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) or key == "ab":
                problems.append(f"node {node.name}: {key!r} is not a usable VARS name")
            if '"' in value or "\n" in value or "\\" in value:
                problems.append(f"node {node.name}: VARS {key} value {value!r} cannot be quoted")
    for node in dag.nodes:
        problems += [f"node {node.name}: parent {p} is not a node" for p in node.parents if p not in seen]
    problems += [f"note {note!r} is not one line" for note in dag.notes if "\n" in note or "\r" in note]
    categories = {n.category for n in dag.nodes if n.category}
    problems += [f"MAXJOBS {c} {n}: at least 1 needed" for c, n in dag.maxjobs if n < 1]
    problems += [f"MAXJOBS {c}: no node of that category" for c, _ in dag.maxjobs if c not in categories]
    if not problems:
        problems += _cycles(dag)
    return problems


def _cycles(dag: Dag) -> list[str]:
    parents = {n.name: n.parents for n in dag.nodes}
    state: dict[str, int] = {}
    for start in parents:
        stack = [(start, iter(parents[start]))]
        if state.get(start):
            continue
        state[start] = 1
        while stack:
            name, children = stack[-1]
            step = next(children, None)
            if step is None:
                state[name] = 2
                stack.pop()
            elif state.get(step) == 1:
                return [f"cycle through {step}"]
            elif not state.get(step):
                state[step] = 1
                stack.append((step, iter(parents[step])))
    return []


def render_dag(dag: Dag) -> str:
    """The .dag text; refuses a DAG that :func:`validate` finds fault with."""
    problems = validate(dag)
    if problems:
        raise FormatError(f"not a valid DAG: {problems[0]}")
    lines = [f"# cascade DAG written by dfos ({len(dag.nodes)} nodes)", *(f"# {note}" for note in dag.notes)]
    for node in dag.nodes:
        lines.append(f"JOB {node.name} {dag.submit_file}")
        pairs = [("ab", node.ab), *dag.extra_vars]
        lines.append(f"VARS {node.name} " + " ".join(f'{k}="{v}"' for k, v in pairs))
        if node.vars:
            lines.append(f"VARS {node.name} " + " ".join(f'{k}="{v}"' for k, v in node.vars))
        if node.retry:
            lines.append(f"RETRY {node.name} {node.retry}")
        if node.category:
            lines.append(f"CATEGORY {node.name} {node.category}")
    lines += [f"MAXJOBS {c} {n}" for c, n in dag.maxjobs]
    lines += [f"PARENT {' '.join(n.parents)} CHILD {n.name}" for n in dag.nodes if n.parents]
    if dag.node_status_file:
        lines.append(f"NODE_STATUS_FILE {dag.node_status_file} {dag.status_interval}")
    return "\n".join(lines) + "\n"


@dataclass
class _Job:
    ab: str
    parents: list[str] = field(default_factory=list)
    retry: int = 0
    category: str | None = None
    vars: list[tuple[str, str]] = field(default_factory=list)
    seen_vars: bool = False

    def node(self, name: str) -> DagNode:
        return DagNode(name, self.ab, tuple(self.parents), self.retry, self.category, tuple(self.vars))


@dataclass
class _Reading:
    """A DAG being read back, line by line (one method per keyword)."""

    jobs: dict[str, _Job] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    submit: str = ""
    maxjobs: list[tuple[str, int]] = field(default_factory=list)
    status: str | None = None
    interval: int = 5
    extra: dict[str, str] = field(default_factory=dict)

    def job(self, words: list[str], line: str) -> None:
        self.jobs[words[1]] = _Job(ab=words[1])
        self.order.append(words[1])
        self.submit = words[2]

    def vars(self, words: list[str], line: str) -> None:
        job = self.jobs[words[1]]
        for key, value in _pairs(line):
            if job.seen_vars:  # a second VARS line: the node's own
                job.vars.append((key, value))
            elif key == "ab":
                job.ab = value
            else:
                self.extra[key] = value
        job.seen_vars = True

    def retry(self, words: list[str], line: str) -> None:
        self.jobs[words[1]].retry = int(words[2])

    def category(self, words: list[str], line: str) -> None:
        self.jobs[words[1]].category = words[2]

    def max_jobs(self, words: list[str], line: str) -> None:
        self.maxjobs.append((words[1], int(words[2])))

    def parent(self, words: list[str], line: str) -> None:
        split = [w.upper() for w in words].index("CHILD")
        for child in words[split + 1 :]:
            self.jobs[child].parents += words[1:split]

    def node_status_file(self, words: list[str], line: str) -> None:
        self.status = words[1]
        self.interval = int(words[2]) if len(words) > 2 else self.interval

    def dag(self) -> Dag:
        nodes = tuple(self.jobs[name].node(name) for name in self.order)
        return Dag(nodes, self.submit, tuple(self.maxjobs), self.status, tuple(sorted(self.extra.items())),
                   self.interval)


_READERS: dict[str, Callable[[_Reading, list[str], str], None]] = {
    "JOB": _Reading.job,
    "VARS": _Reading.vars,
    "RETRY": _Reading.retry,
    "CATEGORY": _Reading.category,
    "MAXJOBS": _Reading.max_jobs,
    "PARENT": _Reading.parent,
    "NODE_STATUS_FILE": _Reading.node_status_file,
}


def parse_dag(text: str, source: str = "<dag>") -> Dag:
    """Read back a DAG of the lines :func:`render_dag` writes."""
    reading = _Reading()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword = line.split()[0].upper()
        try:
            words = line.split(None, 2) if keyword == "VARS" else shlex.split(line, posix=False)
            _READERS[keyword](reading, words, line)
        except (IndexError, KeyError, ValueError):
            raise FormatError(f"{source}:{number}: not a DAG line dfos writes: {line!r}") from None
    return reading.dag()


def _pairs(line: str) -> list[tuple[str, str]]:
    """The ``key="value"`` pairs of a VARS line (values hold no double quote: :func:`validate`)."""
    parts = line.split(None, 2)
    return re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"', parts[2] if len(parts) > 2 else "")


def rescued(text: str) -> set[str]:
    """The nodes a rescue DAG (``<dag>.rescue001``) records as DONE."""
    done = set()
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].upper() == "DONE":
            done.add(words[1])
    return done


def submit_text(dfos: str, root: str, log_dir: str, nodes_log: str) -> str:
    """The one submit file every node uses: ``dfos --root ROOT process-ab -a $(ab)`` (values single-quoted
    inside the double-quoted arguments, as HTCondor's argument syntax wants)."""

    def quoted(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    return "\n".join([
        "# HTCondor submit file written by dfos: one AB per job",
        "universe = vanilla",
        f"executable = {dfos}",
        f'arguments = "--root {quoted(root)} process-ab -a $(ab)"',
        "getenv = True",
        "request_cpus = 1",
        f"output = {log_dir}/$(ab).condor.out",
        f"error = {log_dir}/$(ab).condor.err",
        f"log = {nodes_log}",
        "queue",
    ]) + "\n"
