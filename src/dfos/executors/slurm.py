"""The Slurm executor: every AB of a cascade is one ``sbatch`` job, submitted at once, parents first.

Each job runs ``dfos --root ROOT process-ab -a AB --dag-id CASCADE --attempt N`` (``process-qc``
for a QC cascade) through a two-line script that only ``exec``\\ s its arguments: no shell string
is ever built from an AB name.  A job waits for its parents with ``--dependency=afterok:ID:...``
and ``--kill-on-invalid-dep=yes`` (Slurm cancels it when a parent fails; sites need not set
``kill_invalid_depend``).  CPUs, memory and time come from ``BATCH_RESOURCES`` per recipe and are
checked against the largest node before anything is submitted (Slurm accepts, and keeps pending
for ever, a job no node can hold).

States are read with one ``squeue`` call per look (every ``BATCH_POLL`` seconds); a job no longer
in ``squeue`` is looked up with ``sacct`` (accounting), then ``sacct -c`` (the job-completion
file); a job unknown to all three is reported lost, and the cascade runner asks the job's own run
record.  The runner itself keeps the parents' states: Slurm takes a dependency on a purged job as
satisfied, so dfos never relies on Slurm for that.
"""

from __future__ import annotations

import getpass
import glob
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dfos.config.load import JobResources
from dfos.errors import ConfigError, ExternalToolError
from dfos.executors.base import Executor, Handle, Outcome, Task
from dfos.executors.batch import Pacer, Runner, dfos_arguments, request, run_command
from dfos.executors.cluster import ClusterJob, request_all
from dfos.fsutil import write_text_atomic

__all__ = ["SlurmExecutor", "SlurmJob", "cluster_sbatch_argv", "parse_sacct", "parse_squeue", "sbatch_argv"]

JOB_SCRIPT = """#!/bin/sh
# A dfos batch job: runs its arguments (one AB's dfos command), nothing else. Written by dfos.
exec "$@"
"""

#: Slurm states of a job that has not ended.
_PENDING = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED",
            "STOPPED", "RESIZING", "SIGNALING", "STAGE_OUT", "SPECIAL_EXIT"}
_RUNNING = {"RUNNING", "COMPLETING"}
_OK = {"COMPLETED"}


@dataclass(frozen=True)
class SlurmJob:
    """One line of ``squeue`` / ``sacct``: a job's id, state, reason (or exit code) and time used."""

    job_id: str
    state: str
    reason: str = ""
    elapsed: str = ""


def parse_squeue(text: str) -> dict[str, SlurmJob]:
    """``squeue -h -t all -o %i|%T|%r|%M`` lines by job id."""
    jobs = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) >= 2 and fields[0]:
            jobs[fields[0]] = SlurmJob(fields[0], fields[1].upper(), *([*fields[2:4], "", ""])[:2])
    return jobs


def parse_sacct(text: str) -> dict[str, SlurmJob]:
    """``sacct -n -P -X -o JobID,State,ExitCode,Elapsed`` lines by job id (``CANCELLED by 0`` is CANCELLED)."""
    jobs = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) >= 2 and fields[0] and "." not in fields[0]:
            state = fields[1].split()[0].upper() if fields[1].strip() else ""
            jobs[fields[0]] = SlurmJob(fields[0], state, *([*fields[2:4], "", ""])[:2])
    return jobs


def sbatch_argv(task: Task, script: Path, command: Sequence[str], output: Path, workdir: Path,
                resources: JobResources, after: Sequence[str], options: Sequence[str]) -> list[str]:
    """The ``sbatch`` argument list of one task (pure: tested without Slurm)."""
    argv = _sbatch_head(f"{task.dag_id}:{task.name}", output, workdir, resources)
    if after:
        argv.append("--dependency=afterok:" + ":".join(after))
    return [*argv, *options, str(script), *command, *dfos_arguments(task, resources.cpus)]


def cluster_sbatch_argv(name: str, manifest: Path, script: Path, command: Sequence[str], output: Path, workdir: Path,
                        resources: JobResources, options: Sequence[str]) -> list[str]:
    """The ``sbatch`` argument list of a cluster job (it waits for nothing: its ABs' other parents succeeded)."""
    return [*_sbatch_head(name, output, workdir, resources), *options, str(script), *command,
            "process-cluster", str(manifest)]


def _sbatch_head(name: str, output: Path, workdir: Path, resources: JobResources) -> list[str]:
    argv = ["sbatch", "--parsable", f"--job-name={name}", f"--chdir={workdir}", f"--output={output}",
            "--kill-on-invalid-dep=yes", f"--cpus-per-task={resources.cpus}"]
    if resources.mem_mb is not None:
        argv.append(f"--mem={resources.mem_mb}M")
    if resources.minutes is not None:
        argv.append(f"--time={resources.minutes}")
    return argv


def _used(elapsed: str) -> bool:
    """A job's time used (``1:02``, ``00:00:00``, ``1-02:03:04``) is more than nothing."""
    return any(c.isdigit() and c != "0" for c in elapsed)


class SlurmExecutor(Executor):
    """See the module docstring."""

    name: ClassVar[str] = "slurm"
    batch: ClassVar[bool] = True
    clusters: ClassVar[bool] = True

    def __init__(self, command: Sequence[str], job_dir: Path, workdir: Path,
                 resources: Mapping[str, JobResources], options: Sequence[str] = (), poll_interval: float = 1.0,
                 run: Runner = run_command) -> None:
        """``command``: the dfos program on the nodes with ``--root``; ``job_dir``: scripts and job output."""
        self.command = list(command)
        self.job_dir = job_dir
        self.workdir = workdir
        self.resources = dict(resources)
        self.options = list(options)
        self.run = run
        self.user = getpass.getuser()
        self.script = job_dir / "dfos_job.sh"
        self.jobs: dict[str, str] = {}
        """Job id -> AB of every job followed."""
        self.current: dict[str, str] = {}
        """AB -> its newest job id (the one later tasks depend on)."""
        self.seen_running: set[str] = set()
        self.cancelled: set[str] = set()
        self.started_at: dict[str, float] = {}
        self.on_start: dict[str, Callable[[Handle], None] | None] = {}
        self.pacer = Pacer(poll_interval)
        self.checked = False
        self.groups: dict[str, ClusterJob] = {}
        """Job id -> the cluster job it is (its ABs followed through its progress file)."""
        self.numbers: dict[str, int] = {}

    # -- submitting -------------------------------------------------------------------------
    def _prepare(self) -> None:
        """Once: the job script, and every recipe's request checked against the largest node."""
        if self.checked:
            return
        if not self.script.exists() or self.script.read_text(encoding="utf-8") != JOB_SCRIPT:
            write_text_atomic(self.script, JOB_SCRIPT)
        self.script.chmod(0o755)
        done = self._call(["sinfo", "-h", "-N", "-o", "%c|%m"], "sinfo")
        nodes = [line.split("|") for line in done.stdout.split() if "|" in line]
        cpus = max((int(c) for c, _ in nodes if c.isdigit()), default=0)
        mem = max((int(m) for _, m in nodes if m.isdigit()), default=0)
        if not nodes:
            raise ExternalToolError("Slurm shows no node (sinfo); is the cluster up?")
        for recipe, want in self.resources.items():
            if want.cpus > cpus or (want.mem_mb or 0) > mem:
                raise ConfigError(f"BATCH_RESOURCES asks {want.cpus} CPUs / {want.mem_mb or 0} MB for {recipe}, "
                                f"but the largest Slurm node has {cpus} CPUs / {mem} MB: the job would wait for ever")
        self.checked = True

    def _call(self, argv: list[str], what: str) -> subprocess.CompletedProcess[str]:
        try:
            done = self.run(argv)
        except FileNotFoundError:
            raise ExternalToolError(f"{argv[0]} is not installed here: the Slurm executor needs the Slurm client "
                                    f"commands (Debian package slurm-client)") from None
        except subprocess.TimeoutExpired:
            raise ExternalToolError(f"{what} did not answer within 300 s; is slurmctld up?") from None
        if done.returncode != 0 and what == "sinfo":
            last = ((done.stderr or done.stdout).strip().splitlines() or ["no output"])[-1]
            raise ExternalToolError(f"sinfo failed ({last.strip()[:200]}); is the Slurm cluster up, "
                                    "and SLURM_CONF right?")
        return done

    def submit(self, task: Task, on_start: Callable[[Handle], None] | None = None) -> Handle:
        self._prepare()
        out_dir = self.job_dir / task.dag_id.replace("/", "_")
        out_dir.mkdir(parents=True, exist_ok=True)
        output = out_dir / f"{task.name.removesuffix('.ab')}.{task.attempt}.out"
        want = request(self.resources, task)
        after = [self.current[p] for p in task.after if p in self.current]
        argv = sbatch_argv(task, self.script, self.command, output, self.workdir, want, after, self.options)
        job_id = self._sbatch(argv, task.name)
        self.jobs[job_id] = task.name
        self.current[task.name] = job_id
        self.on_start[job_id] = on_start
        return Handle(task.name, job_id)

    def _sbatch(self, argv: list[str], what: str) -> str:
        """Submit; the job id.  'temporarily unable to accept job': tried again briefly."""
        message = ""
        for delay in (0.5, 1.0, 2.0, 0.0):
            done = self._call(argv, "sbatch")
            if done.returncode == 0 and done.stdout.strip():
                return done.stdout.strip().split(";")[0]
            message = ((done.stderr or done.stdout).strip().splitlines() or ["no job id"])[-1]
            time.sleep(delay)
        raise ExternalToolError(f"sbatch refused the job of {what}: {message.strip()[:300]}")

    def submit_cluster(self, tasks: Sequence[Task], on_start: Callable[[Handle], None] | None = None) -> list[Handle]:
        """One job running ``process-cluster`` over a manifest of the tasks; each AB's handle is
        ``<job id>/<cluster>``."""
        self._prepare()
        stem = tasks[0].dag_id.replace("/", "_")
        if stem not in self.numbers:
            self.numbers[stem] = len(list(self.job_dir.glob(f"{glob.escape(stem)}.k*.cluster")))
        self.numbers[stem] += 1
        name = f"{stem}.k{self.numbers[stem]}"
        while (self.job_dir / f"{name}.cluster").exists():
            self.numbers[stem] += 1
            name = f"{stem}.k{self.numbers[stem]}"
        out_dir = self.job_dir / stem
        out_dir.mkdir(parents=True, exist_ok=True)
        job = ClusterJob.write(self.job_dir / f"{name}.cluster", tasks)
        argv = cluster_sbatch_argv(f"{tasks[0].dag_id}:{name}", job.manifest, self.script, self.command,
                                   out_dir / f"{name}.out", self.workdir, request_all(self.resources, tasks),
                                   self.options)
        job_id = self._sbatch(argv, f"{len(tasks)} ABs ({tasks[0].name} ...)")
        job.backend_id = f"{job_id}/{name}"
        self.groups[job_id] = job
        self.on_start[job_id] = on_start
        return [Handle(t.name, job.backend_id, name) for t in tasks]

    def cluster_of(self, name: str) -> str:
        return next((job.manifest.name.removesuffix(".cluster") for job in self.groups.values()
                     if name in job.open), "")

    def adopt(self, handles: Iterable[Handle]) -> set[str]:
        """Follow jobs an earlier dfos submitted; those Slurm no longer knows are left to the runner."""
        handles = list(handles)
        wanted = {h.backend_id: h.name for h in handles if h.backend_id and "/" not in h.backend_id}
        grouped: dict[str, set[str]] = {}
        for h in handles:
            if "/" in h.backend_id:
                grouped.setdefault(h.backend_id, set()).add(h.name)
        if not wanted and not grouped:
            return set()
        known = self._states([*wanted, *(b.split("/")[0] for b in grouped)])
        if known is None:
            raise ExternalToolError("squeue failed: Slurm cannot say what became of the cascade's jobs; "
                                    "is slurmctld up?")
        taken = set()
        for job_id, name in wanted.items():
            if job_id in known:
                self.jobs[job_id] = name
                self.current[name] = job_id
                self.on_start[job_id] = None
                taken.add(name)
        return taken | self._adopt_clusters(grouped, set(known))

    def _adopt_clusters(self, grouped: Mapping[str, set[str]], known: set[str]) -> set[str]:
        """Cluster jobs Slurm still knows, whose manifests are here: their ABs are followed on."""
        taken: set[str] = set()
        for backend_id, names in grouped.items():
            job_id, _, cluster = backend_id.partition("/")
            manifest = self.job_dir / f"{cluster}.cluster"
            if job_id in known and cluster and manifest.is_file():
                job = ClusterJob.read(manifest, backend_id, names)
                self.groups[job_id] = job
                self.on_start[job_id] = None
                taken |= job.open
        return taken

    # -- following ------------------------------------------------------------------------------
    def _states(self, job_ids: list[str]) -> dict[str, SlurmJob] | None:
        """The jobs' states; None when Slurm cannot be asked now (its controller is busy or down)."""
        queue = self._call(["squeue", "-h", "-t", "all", "-u", self.user, "-o", "%i|%T|%r|%M"], "squeue")
        if queue.returncode != 0:
            return None
        found = {k: v for k, v in parse_squeue(queue.stdout).items() if k in job_ids}
        gone = [j for j in job_ids if j not in found]
        for extra in ([], ["-c"]):  # accounting, then the job-completion file
            if not gone:
                break
            done = self._call(["sacct", *extra, "-n", "-P", "-X", "-o", "JobID,State,ExitCode,Elapsed",
                               "-j", ",".join(gone)], "sacct")
            if done.returncode == 0:
                found.update({k: v for k, v in parse_sacct(done.stdout).items() if k in gone})
                gone = [j for j in gone if j not in found]
        return found

    def poll(self, timeout: float | None = None) -> list[Outcome]:
        if not self.jobs and not self.groups:
            time.sleep(timeout or 0.0)
            return []
        if not self.pacer.due(timeout):
            return []
        states = self._states([*self.jobs, *self.groups])
        if states is None:  # not an answer about any job: ask again at the next look
            return []
        ended: list[Outcome] = self._follow_clusters(states)
        for job_id, name in list(self.jobs.items()):
            job = states.get(job_id)
            if job is None:
                ended.append(self._end(job_id, Outcome(name, False, None, 0.0, f"Slurm job {job_id} is known no "
                                                       f"more (purged, no accounting)", job_id, lost=True)))
                continue
            if job.state in _RUNNING or (job.state not in _PENDING and _used(job.elapsed)):
                self._seen_start(job_id, name)
            if job.state in _PENDING or job.state in _RUNNING:
                continue
            ended.append(self._end(job_id, self._outcome(job_id, name, job)))
        return ended

    def _follow_clusters(self, states: Mapping[str, SlurmJob]) -> list[Outcome]:
        """What the cluster jobs' ABs did since the last look (their progress files, read after Slurm's states:
        a job that ended wrote all it will)."""
        ended: list[Outcome] = []
        for job_id, job in list(self.groups.items()):
            state = states.get(job_id)
            over = state is None or (state.state not in _PENDING and state.state not in _RUNNING)
            ended += job.look(over, self.on_start.get(job_id))
            if over:
                for name in job.open:  # (none: an ended job's ABs all have an outcome)
                    ended.append(Outcome(name, False, None, 0.0, "cluster job ended", job.backend_id, lost=True))
                del self.groups[job_id]
                self.on_start.pop(job_id, None)
        return ended

    def _seen_start(self, job_id: str, name: str) -> None:
        if job_id in self.seen_running:
            return
        self.seen_running.add(job_id)
        self.started_at[job_id] = time.monotonic()
        callback = self.on_start.get(job_id)
        if callback:
            callback(Handle(name, job_id))

    def _outcome(self, job_id: str, name: str, job: SlurmJob) -> Outcome:
        wall = round(time.monotonic() - self.started_at.get(job_id, time.monotonic()), 3)
        if job.state in _OK:
            return Outcome(name, True, 0, wall, "", job_id)
        if job.state == "CANCELLED" and (job.reason.startswith("Dependency")
                                         or (job_id in self.cancelled and job_id not in self.seen_running)):
            return Outcome(name, False, None, 0.0, f"cancelled before it started ({job.reason or 'by dfos'})",
                           job_id, never_ran=True)
        return Outcome(name, False, None, wall, f"Slurm job {job_id} ended {job.state}"
                       + (f" ({job.reason})" if job.reason and job.reason != "None" else ""), job_id)

    def _end(self, job_id: str, outcome: Outcome) -> Outcome:
        self.jobs.pop(job_id, None)
        self.on_start.pop(job_id, None)
        self.started_at.pop(job_id, None)
        if self.current.get(outcome.name) == job_id:
            del self.current[outcome.name]
        return outcome

    def cancel(self, handles: Iterable[Handle]) -> None:
        """Jobs of their own are cancelled; ABs of a cluster job are withdrawn from it (it skips them), and the
        job is cancelled once none of it is left to run."""
        handles = list(handles)
        ids = [h.backend_id for h in handles if h.backend_id and "/" not in h.backend_id]
        withdrawn: dict[str, set[str]] = {}
        for h in handles:
            if "/" in h.backend_id:
                withdrawn.setdefault(h.backend_id.split("/")[0], set()).add(h.name)
        for job_id, names in withdrawn.items():
            job = self.groups.get(job_id)
            if job is not None and job.withdraw(names):
                ids.append(job_id)
        if ids:
            self.cancelled.update(ids)
            self._call(["scancel", *ids], "scancel")
