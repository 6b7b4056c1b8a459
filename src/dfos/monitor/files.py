"""File views confined to the workspace: a requested path is relative, has no ``..``, and resolves
(symlinks followed) to a file inside the workspace root; anything else is refused."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

__all__ = ["OutsideWorkspace", "inside", "tail"]


class OutsideWorkspace(ValueError):
    """A path that leads out of the workspace (or is malformed)."""


def inside(root: Path, requested: str) -> Path:
    """The real file a relative path names inside ``root``; raises :class:`OutsideWorkspace`."""
    if not requested or "\x00" in requested or "\\" in requested:
        raise OutsideWorkspace("no such file")
    relative = PurePosixPath(requested)
    if relative.is_absolute() or any(part in ("..", "") for part in relative.parts) or requested.startswith("~"):
        raise OutsideWorkspace("only paths inside the workspace, relative to it, without '..'")
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise OutsideWorkspace("the path leads out of the workspace")
    if not target.is_file():
        raise OutsideWorkspace("no such file")
    return target


def tail(path: Path, limit: int = 64_000) -> tuple[str, bool]:
    """The end of a text file (at most ``limit`` bytes) and whether it was cut."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size > limit:
            handle.seek(size - limit)
        data = handle.read()
    text = data.decode("utf-8", errors="replace")
    if size > limit:
        text = text.split("\n", 1)[-1]
    return text, size > limit
