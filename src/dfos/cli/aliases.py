"""DFOS command names kept for job files and habits: ``processAB -a AB [-l]``, ``processQC -a AB``."""

from __future__ import annotations

import os
import sys

from dfos.cli.main import main

__all__ = ["process_ab", "process_qc"]


def process_ab() -> None:
    """``processAB -a AB [-l]`` is ``dfos process-ab -a AB`` (``-l``: the recipe uses every core)."""
    args = sys.argv[1:]
    threads = ["--threads", str(os.cpu_count() or 1)] if "-l" in args else []
    args = [a for a in args if a != "-l"]
    sys.exit(main(["process-ab", *args, *threads]))


def process_qc() -> None:
    """``processQC -a AB`` is ``dfos process-qc -a AB``."""
    sys.exit(main(["process-qc", *sys.argv[1:]]))
