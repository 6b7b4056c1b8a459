"""createJob: a date's ABs to execution files and a block in the job file, then ``cal_Queued``.

Writes (all in ``$DFO_JOB_DIR``, atomically):

* ``execAB_<MODE>_<DATE>`` in the configured DRS_TYPE (CON, CPL, INT);
* ``execQC_<MODE>_<DATE>`` in the configured QCBQS_TYPE (SER, PAR, IMPLICIT);
* ``rawDown_<MODE>_<DATE>`` when raw frames are not on disk yet (CALIB only; the first
  50, at most DOWNLOAD_SLOTS in parallel);
* ``mcalDown_<MODE>_<DATE>`` when certified masters the ABs read were reduced to headers
  (CALIB only): every one of them is fetched once, before the cascade starts, so that
  parallel ABs never fetch the same master at the same time;
* the job block, appended to ``JOBS_NIGHT`` (or ``JOBS_AUTO`` with ``-F``): an executable
  shell script of dfos commands, every value shell-quoted.

``-a AB`` writes the subcascade ``execAB_<MODE>_<DATE>_sub``: that AB and every AB that
depends on it, with their dependencies among them (an AB moved already, its file out of ``$DFO_AB_DIR``, is
never queued again: a run's target moved before another is processed).

A parent in another batch (the CALIB AB that makes a SCIENCE AB's virtual calibration) stays in the
CON line of its child: the cascade waits until that AB succeeded in its own cascade
(:mod:`dfos.cascade.externals`).  A parent of the same batch that is not queued (tagged DONE, or
outside a subcascade) is nothing to wait for and is left out.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from dfos import clock
from dfos.ab.lists import read_ab_list
from dfos.ab.model import AB, Completeness
from dfos.cascade.run import forget_cascade
from dfos.cascade.scheduler import Node, descendants
from dfos.dates import format_timestamp
from dfos.errors import NotFound, StateError
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.jobs.model import ExecFile, ExecLine, JobBlock, check_name, render_block, render_exec
from dfos.jobs.relocate import command_line, header_lines, root_lines
from dfos.keys import BatchId, KeyLike, Mode, Stage, mode_flag
from dfos.steps.fetch import missing_masters
from dfos.steps.process_ab import load_ab
from dfos.workspace import Workspace

__all__ = ["JobFiles", "create_group_job", "create_job", "job_header", "job_path", "root_up"]

#: Raw frames a rawDown file fetches at most (DFOS: the first 50).
RAW_DOWNLOAD_LIMIT = 50


@dataclass(frozen=True)
class JobFiles:
    exec_ab: Path
    exec_qc: Path | None
    raw_down: Path | None
    mcal_down: Path | None
    job_file: Path | None
    abs: tuple[str, ...]


def root_up(workspace: Workspace) -> str | None:
    """The path from ``$DFO_JOB_DIR`` up to the workspace root (``..``); None when the job directory lies
    outside the root (its files then name the root as is)."""
    job_dir, root = workspace.job_dir.resolve(), workspace.root.resolve()
    if job_dir != root and root not in job_dir.parents:
        return None
    return os.path.relpath(root, job_dir)


def job_header(workspace: Workspace) -> str:
    """The first lines of a job file: it finds its workspace from where it lies (``DFOS_ROOT``, exported),
    and sets up that workspace's DFOS environment (:mod:`dfos.jobs.relocate`)."""
    return "\n".join(header_lines(str(workspace.bin_dir / "dfos"), root_up(workspace), str(workspace.root))) + "\n"


def job_path(workspace: Workspace, path: Path) -> str:
    """A file of ``$DFO_JOB_DIR`` as a job file names it: ``$DFO_JOB_DIR/<name>`` (:func:`render_block`)."""
    return f"$DFO_JOB_DIR/{path.name}" if path.parent == workspace.job_dir else str(path)


def _append_block(path: Path, header: str, block: list[str]) -> None:
    """Add a block; an earlier block of the same mode and date is replaced (one per date, as in DFOS)."""
    with exclusive_lock(path.with_name(f".{path.name}.lock")):
        existing = path.read_text(encoding="utf-8") if path.is_file() else header
        kept: list[str] = []
        skipping = False
        for line in existing.rstrip("\n").split("\n"):
            if line == "" or line.startswith("# pipeline jobs for "):
                skipping = line.startswith(block[0].split(" (", 1)[0] + " (")
                if skipping and kept and kept[-1] == "":
                    kept.pop()
            if not skipping:
                kept.append(line)
        write_text_atomic(path, "\n".join(kept) + "\n\n" + "\n".join(block) + "\n", mode=0o755)


def create_job(
    workspace: Workspace, day: KeyLike, mode: Mode | str, auto: bool = False, subcascade: str | None = None,
    redo_done: bool = False,
) -> JobFiles:
    """Run createJob; see the module docstring.  ``redo_done`` (``create-job -r``) queues DONE ABs still in
    ``$DFO_AB_DIR`` again."""
    batch = BatchId.of(mode, day)
    mode, key = batch.mode, batch.key.text
    every = read_ab_list(workspace.ab_list(mode, key))
    # -a may redo DONE ABs, but not moved ones (their file left $DFO_AB_DIR: their certification is final)
    entries = [e for e in every if not e.done or ((subcascade is not None or redo_done)
                                                  and (workspace.ab_dir / e.name).is_file())]
    if not any(e.completeness is Completeness.COMPLETE for e in entries):
        raise StateError(f"no ABs to process for {mode} {key}: run 'dfos create-ab -m {mode} -d {key}' first "
                        "(ABs tagged DONE are not queued again, INCOMPLETE ones cannot run)")
    abs_ = [load_ab(workspace, check_name(e.name)) for e in entries]
    names = {ab.name for ab in abs_}
    batch_names = {e.name for e in every}
    settings = workspace.settings
    drs = settings.DRS_TYPE
    # parents of another batch are waited for in their own cascade; those of this batch not queued are done
    lines = [ExecLine(ab.name, tuple(p for p in ab.waitfor if p in names or p not in batch_names) if drs == "CON"
                      else (), local_parallel=drs == "INT") for ab in abs_]
    stamp = f"written by dfos create-job for {mode} {key} at {format_timestamp(clock.now(settings))}"
    if subcascade is not None:
        return _subcascade(workspace, batch, lines, stamp, Path(subcascade).name, batch_names)

    exec_ab = workspace.job_dir / f"execAB_{batch}"
    forget_cascade(workspace, batch.render(), sorted(names))  # a new queue (refused while an executor runs it)
    write_text_atomic(exec_ab, render_exec(ExecFile(drs, tuple(lines)), [stamp, f"DRS_TYPE {drs}"]))
    if drs == "CON":
        _write_dag(workspace, exec_ab, abs_, lines)
    exec_qc = workspace.job_dir / f"execQC_{batch}"
    qc = settings.QCBQS_TYPE
    qc_lines = () if qc == "IMPLICIT" else tuple(ExecLine(ab.name, (), "processQC") for ab in abs_)
    write_text_atomic(exec_qc, render_exec(ExecFile(qc, qc_lines), [stamp, f"QCBQS_TYPE {qc}"]), mode=0o755)
    calib = mode is Mode.CALIB
    raw_down = _raw_down(workspace, abs_, batch) if calib else None
    mcal_down = _mcal_down(workspace, abs_, batch) if calib else None

    block = render_block(JobBlock(mode, key, stamp, job_path(workspace, exec_ab), job_path(workspace, exec_qc),
                                  job_path(workspace, raw_down) if raw_down else None,
                                  job_path(workspace, mcal_down) if mcal_down else None))
    job_file = workspace.job_dir / ("JOBS_AUTO" if auto else "JOBS_NIGHT")
    _append_block(job_file, job_header(workspace), block)
    workspace.status_log.append(mode_flag(mode, Stage.QUEUED), key, clock.now(settings))
    return JobFiles(exec_ab, exec_qc, raw_down, mcal_down, job_file, tuple(ab.name for ab in abs_))


def create_group_job(workspace: Workspace, dag_id: str, abs_: list[AB], what: str) -> JobFiles:
    """One cascade over ABs of several batches (phoenix COMPLETE_MODE: the CALIB ABs a month's science needs, then
    the month's SCIENCE ABs): ``execAB_<dag_id>`` and ``execQC_<dag_id>``, no job block.  A parent among ``abs_`` is
    waited for in the cascade; one tagged DONE in its batch is left out; any other stays, watched in its own
    cascade.  ``<mode>_Queued`` goes to DFO_STATUS for each batch."""
    settings = workspace.settings
    names = {ab.name for ab in abs_}
    done = {e.name for key in {BatchId.parse(ab.batch_id) for ab in abs_}
            for e in read_ab_list(workspace.ab_list(key.mode, key.key)) if e.done}
    drs = settings.DRS_TYPE
    lines = [ExecLine(ab.name, tuple(p for p in ab.waitfor if p in names or p not in done) if drs == "CON" else (),
                      local_parallel=drs == "INT") for ab in abs_]
    stamp = f"written by dfos phoenix for {what} at {format_timestamp(clock.now(settings))}"
    exec_ab = workspace.job_dir / f"execAB_{dag_id}"
    forget_cascade(workspace, dag_id, sorted(names))
    write_text_atomic(exec_ab, render_exec(ExecFile(drs, tuple(lines)), [stamp, f"DRS_TYPE {drs}"]))
    exec_qc = workspace.job_dir / f"execQC_{dag_id}"
    qc = settings.QCBQS_TYPE
    qc_lines = () if qc == "IMPLICIT" else tuple(ExecLine(ab.name, (), "processQC") for ab in abs_)
    write_text_atomic(exec_qc, render_exec(ExecFile(qc, qc_lines), [stamp, f"QCBQS_TYPE {qc}"]), mode=0o755)
    for batch in sorted({ab.batch_id for ab in abs_}):
        parsed = BatchId.parse(batch)
        workspace.status_log.append(mode_flag(parsed.mode, Stage.QUEUED), parsed.key.text, clock.now(settings))
    return JobFiles(exec_ab, exec_qc, None, None, None, tuple(ab.name for ab in abs_))


def _subcascade(workspace: Workspace, batch: BatchId, lines: list[ExecLine], stamp: str, root: str,
                batch_names: set[str]) -> JobFiles:
    """``-a AB``: ``execAB_<MODE>_<KEY>_sub``, that AB and every AB that depends on it (and their parents of other
    batches, waited for)."""
    if root not in {line.ab for line in lines}:
        raise NotFound(f"{root} is not an AB of {batch.mode} {batch.key} waiting to be processed")
    listed = {line.ab for line in lines}
    keep = descendants([Node(line.ab, tuple(p for p in line.parents if p in listed)) for line in lines], root)
    sub = [ExecLine(line.ab, tuple(p for p in line.parents if p in keep or p not in batch_names), line.program,
                    line.local_parallel) for line in lines if line.ab in keep]
    dag_id = BatchId.of(batch.mode, batch.key, sub=True).render()
    path = workspace.job_dir / f"execAB_{dag_id}"
    forget_cascade(workspace, dag_id)
    header = [stamp, f"subcascade of {root}: run it with 'dfos exec-cascade --dag-id {dag_id}'"]
    write_text_atomic(path, render_exec(ExecFile(workspace.settings.DRS_TYPE, tuple(sub)), header), mode=0o644)
    return JobFiles(path, None, None, None, None, tuple(line.ab for line in sub))


def _download_file(workspace: Workspace, path: Path, what: str, command: tuple[str, ...],
                   names: list[str]) -> Path | None:
    """Write a download file (or remove a stale one when there is nothing to fetch)."""
    if not names:
        path.unlink(missing_ok=True)
        return None
    slots = workspace.settings.DOWNLOAD_SLOTS
    lines = ["#!/usr/bin/env bash", f"# {what}: at most {slots} downloads at once", "set -euo pipefail",
             *root_lines(str(workspace.bin_dir / "dfos"), root_up(workspace), str(workspace.root)),
             f"{command_line(*command, '--parallel', str(slots))} \\"]
    lines += [f"    {shlex.quote(name)} \\" for name in names]
    lines[-1] = lines[-1].removesuffix(" \\")
    write_text_atomic(path, "\n".join(lines) + "\n", mode=0o755)
    return path


def _raw_down(workspace: Workspace, abs_: list[AB], batch: BatchId) -> Path | None:
    wanted: list[str] = []
    for ab in abs_:
        if ab.completeness is not Completeness.COMPLETE:
            continue
        for raw in ab.rawfiles:
            path = workspace.expand(raw.ref)
            if not path.is_file() and path.name not in wanted:
                wanted.append(path.name)
    return _download_file(workspace, workspace.job_dir / f"rawDown_{batch}", f"raw frames for {batch.mode} {batch.key}",
                          ("fetch-raw", "-d", batch.key.text), wanted[:RAW_DOWNLOAD_LIMIT])


def _mcal_down(workspace: Workspace, abs_: list[AB], batch: BatchId) -> Path | None:
    return _download_file(workspace, workspace.job_dir / f"mcalDown_{batch}",
                          f"certified masters for {batch.mode} {batch.key}", ("fetch-mcal",),
                          missing_masters(workspace, abs_))


def _write_dag(workspace: Workspace, exec_ab: Path, abs_: list[AB], lines: list[ExecLine]) -> Path:
    """``<execAB>.dag`` and ``dfos_ab.sub`` beside it, for sites that run the cascade with DAGMan themselves
    (COMPLETE ABs only; RETRY from MAX_ATTEMPTS, CATEGORY per recipe, MAXJOBS from RECIPE_LIMITS)."""
    from dfos.executors.condor_dag import Dag, DagNode, node_name, render_dag, submit_text

    settings = workspace.settings
    runnable = {ab.name: ab for ab in abs_ if ab.completeness is Completeness.COMPLETE}
    taken: set[str] = set()
    names = {line.ab: node_name(line.ab, taken) for line in lines if line.ab in runnable}
    nodes = tuple(DagNode(names[line.ab], line.ab, tuple(names[p] for p in line.parents if p in names),
                          settings.MAX_ATTEMPTS - 1, runnable[line.ab].recipe) for line in lines if line.ab in names)
    used = {node.category for node in nodes}
    limits = tuple((recipe, n) for recipe, n in sorted(settings.recipe_limits.items()) if recipe in used)
    dag = exec_ab.with_name(exec_ab.name + ".dag")
    listed = {line.ab for line in lines}
    outside = sorted({p for line in lines if line.ab in names for p in line.parents if p not in listed})
    notes = (f"{len(outside)} parent(s) in other cascades, not nodes here: {', '.join(outside)}",
             "submit this DAG once they succeeded ('dfos exec-cascade' waits for them itself)") if outside else ()
    write_text_atomic(dag, render_dag(Dag(nodes, "dfos_ab.sub", limits, dag.name + ".status",
                                          (("dag", exec_ab.name.removeprefix("execAB_")),), notes=notes)))
    write_text_atomic(dag.with_name("dfos_ab.sub"), submit_text(str(workspace.bin_dir / "dfos"), str(workspace.root),
                                                                str(workspace.ab_dir), dag.name + ".nodes.log"))
    return dag
