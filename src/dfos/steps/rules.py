"""Rule inspection (``dfos oca check|classify|organise``): rules and headers in, reports out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dfos.association.classify import Classifier
from dfos.association.frames import Frame
from dfos.association.organise import Organisation, organise
from dfos.headers.io import read_header
from dfos.oca.io import load_rules
from dfos.oca.parser import RuleSyntaxError, parse_rules
from dfos.oca.syntax import RuleSet

__all__ = ["RuleReport", "check_rules", "classify_files", "load_frames", "organise_files"]


@dataclass(frozen=True)
class RuleReport:
    """What one rule file holds."""

    file: str
    classify: int
    organise: int
    actions: int
    selects: int
    products: int


def check_rules(paths: Sequence[Path]) -> tuple[list[RuleReport], list[str]]:
    """Parse each file on its own; return reports and the error lines (``file:line:col: ...``)."""
    reports, errors = [], []
    for path in paths:
        try:
            rules = parse_rules(path.read_text(encoding="utf-8", errors="replace"), str(path))
        except OSError as exc:
            errors.append(f"{path}: cannot read ({exc.strerror})")
            continue
        except RuleSyntaxError as exc:
            errors.append(exc.message)
            continue
        counts = rules.counts
        reports.append(RuleReport(str(path), counts.classify, counts.organise, counts.actions, counts.selects,
                                  counts.products))
    return reports, errors


def load_frames(paths: Sequence[Path]) -> tuple[list[Frame], list[tuple[str, str]]]:
    """Read headers (``.hdr`` or ``.fits``); unreadable files are reported, not fatal."""
    frames, problems = [], []
    for path in paths:
        try:
            header = read_header(path)
        except Exception as exc:  # any unreadable file is reported per file, the others go on
            problems.append((str(path), str(exc)))
            continue
        name = str(header.get("ARCFILE") or path.name)
        frames.append(Frame(name=name, header=dict(header.cards), path=str(path)))
    return frames, problems


def classify_files(rules: RuleSet, frames: Sequence[Frame]) -> list[tuple[Frame, dict[str, Any]]]:
    """Each frame with the keys classification assigns."""
    classifier = Classifier(rules.classify)
    return [(frame, classifier.assign(frame.header)) for frame in frames]


def organise_files(rules: RuleSet, frames: Sequence[Frame]) -> Organisation:
    """Classify, then organise into groups."""
    classifier = Classifier(rules.classify)
    return organise([classifier.classify(f) for f in frames], rules.organise)


def rules_from(paths: Sequence[Path]) -> RuleSet:
    """The rule set of ``--rules`` files."""
    return load_rules(paths)
