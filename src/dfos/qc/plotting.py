"""One lock for all drawing: matplotlib's text layout (pyparsing, font caches) is not thread-safe,
and an executor runs processQC of several ABs in threads.  Plots take milliseconds against the
recipes' seconds, so drawing one at a time costs nothing that matters."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from dfos.fsutil import writer_tag

__all__ = ["DRAWING", "save_figure"]

DRAWING = threading.RLock()


def save_figure(figure: Any, target: Path, dpi: int) -> Path:
    """Write a figure atomically (temporary file, rename); the format follows the suffix."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{writer_tag()}.{threading.get_ident()}.part")
    figure.savefig(tmp, dpi=dpi, format=target.suffix.lstrip(".").lower() or "png")
    tmp.replace(target)
    return target
