"""ESO QC dictionaries (``ESO-DFS-DIC.<INSTRUMENT>_QC``): names, units and descriptions of QC1 parameters.

A dictionary entry's name may hold placeholders: a word ending in lower-case
``i``/``j`` letters stands for digits (``QC REGi MIN`` is ``QC REG11 MIN``,
``QC OUTi RON MASTER`` is ``QC OUT1 RON MASTER``).  Dictionaries are read from
the CPL plugin packages (``/usr/share/cpl-plugins/<pipeline>-*/dic/*_QC``).
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DictionaryEntry", "QCDictionary"]


@dataclass(frozen=True)
class DictionaryEntry:
    name: str
    unit: str
    comment: str
    description: str
    type: str


_HEAD = re.compile(r"^([A-Z][A-Za-z ]+):\s*(.*)$")


def _pattern(name: str) -> re.Pattern[str]:
    words = []
    for word in name.split():
        match = re.fullmatch(r"([A-Z0-9_]*?)([ij]+)", word)
        words.append(re.escape(match[1]) + r"\d+" if match else re.escape(word))
    return re.compile(" ".join(words))


def parse_dictionary(text: str) -> list[DictionaryEntry]:
    """The entries of a dictionary file (blocks of ``Field: value`` lines, continued by indentation).

    Any text parses (lines that fit no block are skipped), in time linear in its length."""
    entries: list[DictionaryEntry] = []
    fields: dict[str, list[str]] = {}
    last = ""

    def flush() -> None:
        value = {name: " ".join(parts) for name, parts in fields.items()}
        if value.get("Parameter Name"):
            entries.append(DictionaryEntry(value["Parameter Name"], value.get("Unit", ""),
                                           value.get("Comment Field", ""),
                                           " ".join(value.get("Description", "").split()), value.get("Type", "")))
        fields.clear()

    for line in text.splitlines():
        if line.startswith("#"):
            continue
        head = _HEAD.match(line)
        if head and not line[0].isspace():
            if head[1] == "Parameter Name":
                flush()
            last = head[1]
            fields[last] = [head[2].strip()]
        elif line.strip() and last:
            fields.setdefault(last, []).append(line.strip())
    flush()
    return entries


class QCDictionary:
    """Look up a QC1 parameter's unit and description."""

    def __init__(self, entries: list[DictionaryEntry]) -> None:
        self.exact = {e.name: e for e in entries}
        self.patterns = [(_pattern(e.name), e) for e in entries if e.name not in ("",)]

    @classmethod
    def for_pipeline(cls, pipeline: str) -> QCDictionary:
        """The QC dictionaries the pipeline's Debian package ships (none: an empty dictionary)."""
        entries: list[DictionaryEntry] = []
        for path in sorted(glob.glob(f"/usr/share/cpl-plugins/{pipeline}-*/dic/*_QC")):
            entries += parse_dictionary(Path(path).read_text(encoding="latin-1"))
        return cls(entries)

    def lookup(self, name: str) -> DictionaryEntry | None:
        if name in self.exact:
            return self.exact[name]
        return next((entry for pattern, entry in self.patterns if pattern.fullmatch(name)), None)
