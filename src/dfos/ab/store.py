"""Reading AB files from an AB directory."""

from __future__ import annotations

from pathlib import Path

from dfos.ab.format import parse
from dfos.ab.model import AB
from dfos.errors import NotFound

__all__ = ["read_ab"]


def read_ab(ab_dir: Path, name: str) -> AB:
    """The AB called ``name`` in ``ab_dir`` (a path's directory part is ignored)."""
    path = ab_dir / Path(name).name
    try:
        return parse(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        raise NotFound(f"no AB {Path(name).name} in {ab_dir}; create it with 'dfos create-ab'") from None
