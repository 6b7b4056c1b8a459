"""Job files that name no absolute workspace root: their header, their lines, and the rewrite of old ones.

A job file (``JOBS_NIGHT``, ``JOBS_INGEST``, ``JOBS_CLEANUP``, ``JOBS_PHOENIX``, ``rawDown_*``, ``mcalDown_*``)
finds its workspace from where it lies: ``$DFO_JOB_DIR`` is ``jobs/`` under the root, so the root is the
directory one level up (:func:`root_lines`).  Every command line runs ``"$DFOS" --root "$DFOS_ROOT" ...`` and
names files of the job directory as ``"$DFO_JOB_DIR"/<name>``: a copy of the whole workspace directory runs on
the copy, whatever ``DFOS_ROOT`` the caller has set and wherever it starts from.

Files written by an older dfos (or copied by hand) carry ``--root /some/root``; :func:`foreign_roots` finds the
roots a text names that are not the workspace's own, and :func:`relocate_text` rewrites such a text into the
relocatable form.  Pure: text in, text out.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable

__all__ = ["ROOT_VARIABLE", "canonical_line", "command_line", "foreign_roots", "header_lines", "relocate_text",
           "root_lines"]

#: The shell variable every line's ``--root`` names.
ROOT_VARIABLE = '"$DFOS_ROOT"'

#: The directory this file lies in (a symbolic link to it followed), as the shell computes it.
_HERE = '"$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")"'
_ROOT_WORD = re.compile(r"--root(?:\s+|=)('[^']*'|\"[^\"]*\"|[^\s)\"']+)")
_OLD_ENV = re.compile(r"^eval \"\$\((?P<program>.+?) --root (?P<root>.+?) env\)\"$")
_WORD = re.compile(r"'[^']*'|[^\s'\"|;&()]+")


def root_lines(dfos: str, up: str | None, root: str) -> list[str]:
    """The lines that set ``DFOS_ROOT`` (exported) and ``DFOS``: ``up`` is the path from the job directory to
    the root (``..``); None when the job directory lies outside the root (then the root is written as is)."""
    if up is None:
        where = ["# the job directory lies outside the workspace: the root is named here, as is",
                 f"DFOS_ROOT={shlex.quote(root)}"]
    else:
        where = ["# the workspace is where this file lies (a copy of the workspace runs on the copy;",
                 "# an inherited DFOS_ROOT is ignored; a symbolic link to this file leads here too)",
                 f'DFOS_ROOT="$(cd -- {_HERE}/{shlex.quote(up)} && pwd)"']
    return [*where, "export DFOS_ROOT", f"DFOS={shlex.quote(dfos)}"]


def header_lines(dfos: str, up: str | None, root: str) -> list[str]:
    """The first lines of a ``JOBS_*`` file: the root, then the DFOS environment of that root."""
    return ["#!/usr/bin/env bash",
            "# dfos job file: run it to process what it lists ('dfos create-job' appends blocks).",
            "set -euo pipefail",
            *root_lines(dfos, up, root),
            f'eval "$("$DFOS" --root {ROOT_VARIABLE} env)"']


def command_line(*args: str) -> str:
    """A job line running dfos on the file's own workspace: ``"$DFOS" --root "$DFOS_ROOT" ARGS``."""
    return " ".join(['"$DFOS"', "--root", ROOT_VARIABLE, *(shlex.quote(a) for a in args)])


def _unquote(word: str) -> str:
    try:
        parts = shlex.split(word)
    except ValueError:
        return word
    return parts[0] if len(parts) == 1 else word


def foreign_roots(text: str, root: str) -> list[str]:
    """The workspace roots a job file names with ``--root`` that are not ``root`` (in order, once each)."""
    found: list[str] = []
    for match in _ROOT_WORD.finditer(text):
        named = _unquote(match.group(1))
        if named.startswith("$") or posixpath.normpath(named) == posixpath.normpath(root) or named in found:
            continue
        found.append(named)
    return found


def canonical_line(line: str) -> str:
    """An old ingest or cleanup line (``/x/bin/dfos --root /r ingest ...``) in today's form; other lines as
    they are (to compare lines of either form)."""
    try:
        words = shlex.split(line)
    except ValueError:
        return line
    if len(words) > 3 and words[1] == "--root" and (words[0] == "$DFOS" or words[0].endswith("/dfos")) \
            and not any(ch in line for ch in "|;&"):
        return command_line(*words[3:])
    return line


def _word(word: str, roots: Iterable[str], job_dir: str) -> str:
    """A word of a line naming a path under an old root, written relative to this workspace's variables."""
    plain = _unquote(word)
    for old in roots:
        old = posixpath.normpath(old)
        if plain == old:
            return ROOT_VARIABLE
        if plain.startswith(old + "/"):
            rest = plain[len(old) + 1:]
            if job_dir and (rest == job_dir or rest.startswith(job_dir + "/")):
                tail = rest[len(job_dir) + 1:]
                return '"$DFO_JOB_DIR"' + (f"/{shlex.quote(tail)}" if tail else "")
            return ROOT_VARIABLE + f"/{shlex.quote(rest)}"
    return word


def _line(line: str, roots: list[str], job_dir: str) -> str:
    canonical = canonical_line(line)
    if canonical != line:
        return canonical
    if line.lstrip().startswith("#"):
        return line
    return _WORD.sub(lambda m: _word(m.group(0), roots, job_dir), line)


def relocate_text(text: str, roots: list[str], dfos: str, up: str | None, root: str, job_dir: str) -> str:
    """``text`` of a job file naming the old ``roots``, rewritten: its header becomes today's (:func:`header_lines`,
    or for a script without the environment line, :func:`root_lines` after its ``set`` line), its dfos calls run
    ``"$DFOS" --root "$DFOS_ROOT"``, and paths under an old root become ``"$DFO_JOB_DIR"/...`` or
    ``"$DFOS_ROOT"/...``.  ``job_dir`` is the job directory relative to the root (``jobs``)."""
    lines = text.rstrip("\n").split("\n")
    body_from, head = 0, None
    for number, line in enumerate(lines[:8]):
        if _OLD_ENV.match(line):
            body_from = number + 1
            if body_from < len(lines) and lines[body_from] == 'DFOS="$DFO_BIN_DIR/dfos"':
                body_from += 1
            head = header_lines(dfos, up, root)
            break
    if head is None:
        sets = [n for n, line in enumerate(lines[:4]) if line.startswith("set -")]
        if not sets or any(line.startswith("DFOS_ROOT=") for line in lines):
            head, body_from = [], 0
        else:
            body_from = sets[0] + 1
            head = [*lines[:body_from], *root_lines(dfos, up, root)]
    body = [_line(line, roots, job_dir) for line in lines[body_from:]]
    return "\n".join([*head, *body]) + "\n"
