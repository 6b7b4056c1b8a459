"""AB lists: the ABs of one batch in cascade order, one line each (``$DFO_MON_DIR/AB_list_<MODE>_<KEY>``).

A line is ``<AB>  <RAW_TYPE>  <RECIPE>  <COMPLETENESS>  [DONE]`` (docs/formats.md).  createAB writes the
list, the cascade tags an AB ``DONE`` once it succeeded (createAB never touches it again), createJob,
certify, move, finish and the monitors read it.  Every writer holds the list's lock
(:func:`ab_list_lock`), so a DONE tag never races a createAB run of the same batch.

Where a batch's list is kept is the workspace's business (:meth:`dfos.workspace.Workspace.ab_list`);
this module only reads, renders and tags the file it is given.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from dfos.ab.model import AB, Completeness
from dfos.errors import FormatError
from dfos.fsutil import decode_text, exclusive_lock, write_if_changed, write_text_atomic
from dfos.naming import safe_name

__all__ = ["ABList", "ab_list_lock", "parse_ab_list", "read_ab_list", "render_ab_list", "tag_done",
           "write_ab_list"]

_REPAIR = "repair it, or move it away and run 'dfos create-ab' for the date"


@dataclass(frozen=True)
class ABList:
    """One line of an AB list: ``<AB> <RAW_TYPE> <RECIPE> <COMPLETENESS> [DONE]``."""

    name: str
    raw_type: str
    recipe: str
    completeness: Completeness
    done: bool = False

    @classmethod
    def of(cls, ab: AB, done: bool = False) -> ABList:
        """The line that lists ``ab``."""
        return cls(ab.name, ab.raw_type, ab.recipe, ab.completeness, done)

    def render(self) -> str:
        fields = [self.name, self.raw_type, self.recipe, self.completeness.value] + (["DONE"] if self.done else [])
        return "  ".join(fields)


def render_ab_list(entries: Iterable[ABList]) -> str:
    """The text of an AB list."""
    return "".join(entry.render() + "\n" for entry in entries)


def parse_ab_list(text: str, source: str) -> list[tuple[int, ABList]]:
    """The lines of an AB list's text with their line numbers; FormatError naming ``source`` and the line for
    an AB name that is not a safe file name or a line cut short or mangled (never guessed at)."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        safe_name(fields[0], f"AB name in {source}:{number}")
        entry = _entry(fields)
        if entry is None:
            raise FormatError(f"{source}:{number}: not '<AB>.ab <RAW_TYPE> <RECIPE> COMPLETE|INCOMPLETE [DONE]': "
                              f"{line[:120]!r}; {_REPAIR}")
        entries.append((number, entry))
    return entries


def _entry(fields: list[str]) -> ABList | None:
    """The entry the fields of a line give, None when they are not one."""
    if len(fields) not in (4, 5) or not fields[0].endswith(".ab") or fields[4:] not in ([], ["DONE"]):
        return None
    try:
        completeness = Completeness(fields[3])
    except ValueError:
        return None
    return ABList(fields[0], fields[1], fields[2], completeness, len(fields) == 5)


def read_ab_list(path: Path) -> list[ABList]:
    """Read an AB list (missing file: empty).

    FormatError naming the file (and line) for a file that is not UTF-8 text or an AB name that is not
    a safe file name (:func:`dfos.naming.safe_name`): the names are used as paths in ``$DFO_AB_DIR``.
    """
    if not path.is_file():
        return []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror})") from None
    return [entry for _, entry in parse_ab_list(decode_text(data, str(path), _REPAIR), str(path))]


def write_ab_list(path: Path, entries: Iterable[ABList]) -> bool:
    """Write an AB list (atomically, unless it already says this); True if written.  Hold its lock."""
    return write_if_changed(path, render_ab_list(entries))


def ab_list_lock(path: Path) -> Path:
    """The lock file every writer of the AB list ``path`` holds (createAB, PROCESS_STATUS, DONE tags):
    ``.AB_list_<MODE>_<KEY>.lock`` beside it."""
    return path.with_name(f".{path.name}.lock")


def tag_done(path: Path, names: Collection[str]) -> None:
    """Tag ABs DONE in the AB list ``path`` (after they succeeded): createAB will not touch them again."""
    with exclusive_lock(ab_list_lock(path)):
        entries = read_ab_list(path)
        tagged = [replace(e, done=e.done or e.name in names) for e in entries]
        if tagged != entries:
            write_text_atomic(path, render_ab_list(tagged))
