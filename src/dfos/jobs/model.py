"""Execution files (execAB, execQC) and job blocks as data, with pure render/parse.

execAB, one line per AB (DRS_TYPE):

* CON: ``<AB> || processAB || -a <AB> || <parent,parent or NONE>``;
* CPL: ``processAB -a <AB>``, in cascade order, run one after the other;
* INT: ``processAB -a <AB> -l``, serial, the recipe using every core.

execQC (QCBQS_TYPE): SER ``processQC -a <AB>``; PAR ``<AB> || processQC || -a <AB> || NONE``;
IMPLICIT: no line (QC runs inside processAB).  ``#`` starts a comment.

An AB is listed once, and a CON file's parents never form a cycle: :func:`parse_exec` refuses
either with a :class:`FormatError` naming the lines or the ABs of the cycle.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dfos.errors import FormatError, UsageError
from dfos.keys import BatchId, ProcessingKey

__all__ = ["SAFE_NAME", "ExecFile", "ExecLine", "JobBlock", "check_name", "find_cycle", "parse_blocks",
           "parse_exec", "render_block", "render_exec"]

#: What an AB name may contain: it is written into job files and shell scripts.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+\-]*$")


def check_name(name: str) -> str:
    """Refuse a name that could break a job file line or a shell command."""
    if not SAFE_NAME.match(name) or "||" in name:
        raise FormatError(f"{name!r} is not a safe AB name (letters, digits and . _ : + - only)")
    return name


@dataclass(frozen=True)
class ExecLine:
    ab: str
    parents: tuple[str, ...] = ()
    program: str = "processAB"
    local_parallel: bool = False
    """INT: the recipe runs with every core (``-l``)."""


@dataclass(frozen=True)
class ExecFile:
    kind: str
    """CON, CPL or INT (execAB); SER, PAR or IMPLICIT (execQC)."""
    lines: tuple[ExecLine, ...]

    def nodes(self) -> list[tuple[str, tuple[str, ...]]]:
        """(AB, parents): serial kinds chain each line to the one before."""
        if self.kind in ("CON", "PAR", "IMPLICIT"):
            return [(line.ab, line.parents) for line in self.lines]
        previous: tuple[str, ...] = ()
        chained = []
        for line in self.lines:
            chained.append((line.ab, previous))
            previous = (line.ab,)
        return chained


def render_exec(exec_file: ExecFile, header: Iterable[str] = ()) -> str:
    """The text of an execution file."""
    out = [f"# {line}" for line in header]
    for line in exec_file.lines:
        check_name(line.ab)
        if exec_file.kind in ("CON", "PAR"):
            parents = ",".join(check_name(p) for p in line.parents) or "NONE"
            out.append(f"{line.ab} || {line.program} || -a {line.ab} || {parents}")
        else:
            out.append(f"{line.program} -a {line.ab}" + (" -l" if line.local_parallel else ""))
    return "\n".join(out) + "\n"


def find_cycle(parents: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle among ``parents`` (name -> its parents; parents not among the names are ignored),
    as the names along it with the first repeated at the end (``[A, B, A]``); None when there is none."""
    done: set[str] = set()
    for root in parents:
        if root in done:
            continue
        path: list[str] = []
        on_path: dict[str, int] = {}
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            name, index = stack.pop()
            if index == 0:
                if name in on_path:
                    return [*path[on_path[name]:], name]
                if name in done:
                    continue
                on_path[name] = len(path)
                path.append(name)
            following = [p for p in parents[name] if p in parents]
            if index < len(following):
                stack.append((name, index + 1))
                stack.append((following[index], 0))
            else:
                done.add(name)
                path.pop()
                del on_path[name]
    return None


def parse_exec(text: str, kind: str | None = None, source: str = "<exec>") -> ExecFile:
    """Read an execution file; the kind is recognised from its lines when not given.

    FormatError for a line of neither form, an unsafe AB name, an AB listed twice (both line numbers)
    or a dependency cycle among the parents (its ABs).
    """
    lines = []
    first: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}:{number}"
        if "||" in line:
            fields = [f.strip() for f in line.split("||")]
            if len(fields) != 4 or fields[2].split()[:1] != ["-a"] or fields[2].split()[1:2] != [fields[0]]:
                raise FormatError(f"{where}: expected '<AB> || <program> || -a <AB> || <parents or NONE>'")
            parents = () if fields[3] == "NONE" else tuple(p.strip() for p in fields[3].split(","))
            lines.append(ExecLine(check_name(fields[0]), tuple(check_name(p) for p in parents), fields[1]))
            kind = kind or "CON"
        else:
            words = line.split()
            if len(words) not in (3, 4) or words[1] != "-a" or (len(words) == 4 and words[3] != "-l"):
                raise FormatError(f"{where}: expected '<program> -a <AB> [-l]'")
            lines.append(ExecLine(check_name(words[2]), (), words[0], len(words) == 4))
            kind = kind or ("INT" if len(words) == 4 else "CPL")
        ab = lines[-1].ab
        if ab in first:
            raise FormatError(f"{source}:{number}: {ab} is listed again (first at line {first[ab]}); list each AB once")
        first[ab] = number
    cycle = find_cycle({line.ab: line.parents for line in lines})
    if cycle:
        raise FormatError(f"{source}: its ABs depend on each other in a cycle ({' -> '.join(cycle)}), so none of "
                          "them could ever run; fix their parents")
    return ExecFile(kind or "CON", tuple(lines))


@dataclass(frozen=True)
class JobBlock:
    """The lines createJob appends to JOBS_NIGHT / JOBS_AUTO for one mode and date (processing key)."""

    mode: str
    """CALIB or SCIENCE."""
    date: str
    """The processing key's written form (a DFO date)."""
    written: str
    """When and by what the block was written (its comment line)."""
    exec_ab: str
    exec_qc: str
    raw_down: str | None = None
    mcal_down: str | None = None
    executed: str | None = None
    """When, by whom and with what exit status the block ran (its ``# executed ...`` line, the rest of the
    block commented out); None: not run yet."""

    @property
    def batch(self) -> BatchId:
        return BatchId.of(self.mode, self.date)

    @property
    def dag_id(self) -> str:
        """The id of the block's cascade of ABs, ``<MODE>_<KEY>``."""
        return self.batch.render()

    @property
    def qc_dag_id(self) -> str:
        """The id of its QC cascade, ``QC_<MODE>_<KEY>``."""
        return BatchId.of(self.mode, self.date, qc=True).render()


_BLOCK_HEAD = re.compile(
    r"^# pipeline jobs for (?P<mode>CALIB|SCIENCE), (?P<date>[A-Za-z0-9][A-Za-z0-9_.+-]*) \((?P<written>.*)\)$"
)


#: The line :mod:`dfos.jobs.todo` writes under the head of a block that ran.
_EXECUTED = re.compile(r"^# executed (?P<what>.+)$")


#: How a block names a file of the job directory (``$DFO_JOB_DIR/execAB_CALIB_2013-02-12``).
JOB_DIR_PREFIX = "$DFO_JOB_DIR/"


def render_block(block: JobBlock) -> list[str]:
    """The block's shell lines, in the order of DFOS createJob; every path shell-quoted, files of the job
    directory as ``"$DFO_JOB_DIR"/<name>`` (a copied workspace runs its own)."""
    import shlex

    def q(path: str) -> str:  # a file of the job directory stays relative to it: "$DFO_JOB_DIR"/<name>
        if path.startswith(JOB_DIR_PREFIX):
            return '"$DFO_JOB_DIR"/' + shlex.quote(path.removeprefix(JOB_DIR_PREFIX))
        return shlex.quote(path)

    lines = [f"# pipeline jobs for {block.mode}, {block.date} ({block.written})",
             f'"$DFOS" check-job -m {block.mode} -d {q(block.date)}',
             'echo "starting raw data download ..."']
    lines += [q(path) for path in (block.raw_down, block.mcal_down) if path]  # masters before the cascade
    lines += [
        f'"$DFOS" exec-cascade --dag-id {q(block.dag_id)} --jobs {q(block.exec_ab)} --wait '
        f'|| echo "exec-cascade for {block.date}: some ABs failed or were blocked"',
        f'echo "exec-cascade for {block.date} done."',
        f'"$DFOS" exec-cascade --dag-id {q(block.qc_dag_id)} --jobs {q(block.exec_qc)} --wait '
        f'|| echo "QC for {block.date}: some ABs could not be measured"',
        f'"$DFOS" end-job -m {block.mode} -d {q(block.date)}',
    ]
    return lines


def parse_blocks(text: str, source: str = "<job file>") -> list[JobBlock]:
    """The blocks of a job file (its header and foreign lines are skipped).

    A block runs from its ``# pipeline jobs for`` line to the next blank line; download files are
    told apart by their names, the two cascades (ABs, and QC as ``QC_<MODE>_<DATE>``) by their
    ``exec-cascade`` calls.
    """
    import shlex

    lines = text.splitlines()
    blocks = []
    for number, line in enumerate(lines):
        head = _BLOCK_HEAD.match(line)
        if not head:
            continue
        executed = _EXECUTED.match(lines[number + 1]) if number + 1 < len(lines) else None
        try:
            ProcessingKey.parse(head["date"])
        except UsageError as exc:
            raise FormatError(f"{source}:{number + 1}: {exc.message}") from None
        found: dict[str, str] = {}
        for body in lines[number + (2 if executed else 1) :]:
            if not body.strip() or _BLOCK_HEAD.match(body):
                break
            if executed:  # a block that ran: its lines are commented out ("# " before each)
                body = body.removeprefix("# ")
            try:
                words = shlex.split(body)
            except ValueError:
                raise FormatError(f"{source}:{number + 1}: a pipeline block that dfos did not write") from None
            if len(words) > 3 and words[1] == "exec-cascade" and "--jobs" in words[:-1]:
                jobs = words[words.index("--jobs") + 1]
                dag = words[words.index("--dag-id") + 1] if "--dag-id" in words[:-1] else ""
                found["execQC" if dag.startswith("QC_") else "exec_ab"] = jobs
            elif len(words) == 1:
                kind = words[0].rsplit("/", 1)[-1].split("_", 1)[0]
                if kind in ("rawDown", "mcalDown", "execQC"):
                    found[kind] = words[0]
        if "exec_ab" not in found or "execQC" not in found:
            raise FormatError(f"{source}:{number + 1}: a pipeline block that dfos did not write")
        blocks.append(JobBlock(head["mode"], head["date"], head["written"], found["exec_ab"], found["execQC"],
                               found.get("rawDown"), found.get("mcalDown"), executed["what"] if executed else None))
    return blocks
