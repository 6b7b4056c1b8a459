"""Reading an installation tree of ESO's DFOS (docs/migration.md, "Importing a DFOS tree").

A DFOS tree has no ``dfos.toml``; it has a ``.dfosrc`` (``export DFO_RAW_DIR=/fujisan3/data/uves/raw`` lines) and/or
the standard directories (``monitor/DFO_STATUS``, ``AB/*.ab``, ``headers/<date>/*.hdr``).  Its directories are
found where ``.dfosrc`` says, else under the tree by that directory's name, else by the standard name.

Its ABs name files by absolute paths of the old machine.  :func:`map_ab_text` writes every absolute path that lies
in one of the old directories (as ``.dfosrc`` names it, or where the tree is now) as the ``$DFO_*`` reference of
that directory, and lists the paths it could not map.  QC1 parameters come as CSV exports (``qc1/*.csv``, format
below in :func:`read_qc1_export`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from dfos.ab.format import parse
from dfos.ab.lists import parse_ab_list
from dfos.dates import format_timestamp, parse_date
from dfos.errors import DfosError
from dfos.status.flags import parse_text
from dfos.steps.migrate.sync import Transform, Transformed
from dfos.workspace import CONFIG_FILE

__all__ = [
    "DFOS_DIRECTORIES",
    "QC1_COLUMNS",
    "DfosTree",
    "is_dfos_tree",
    "map_ab_text",
    "open_dfos_tree",
    "parse_dfosrc",
    "read_qc1_export",
]

#: The DFOS directory variables a tree is read by, and their standard names.
DFOS_DIRECTORIES = {
    "DFO_RAW_DIR": "raw", "DFO_HDR_DIR": "headers", "DFO_CAL_DIR": "calib", "DFO_SCI_DIR": "reduced",
    "DFO_LOG_DIR": "logs", "DFO_PLT_DIR": "plots", "DFO_LST_DIR": "lists", "DFO_MON_DIR": "monitor",
    "DFO_JOB_DIR": "jobs", "DFO_CONFIG_DIR": "config", "DFO_AB_DIR": "AB", "DFS_PRODUCT": "products",
}
_RC_NAMES = (".dfosrc", "dfosrc", ".dfosrc_muc")
_EXPORT = re.compile(r"^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$")
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_ABS_TOKEN = re.compile(r"(?<=\s)/\S+")


def parse_dfosrc(text: str) -> dict[str, str]:
    """The ``export NAME=value`` assignments of a ``.dfosrc`` (quotes removed, ``$NAME`` of earlier lines
    expanded; a value naming an unknown variable is kept as written)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _EXPORT.match(line.split(" #", 1)[0])
        if not match:
            continue
        value = match[2].strip().strip("\"'")
        found[match[1]] = _VAR.sub(lambda m: found.get(m[1], m[0]), value)
    return found


def _rc_file(root: Path) -> Path | None:
    return next((root / n for n in _RC_NAMES if (root / n).is_file()), None)


def is_dfos_tree(root: Path) -> bool:
    """No ``dfos.toml``, but a ``.dfosrc`` or the standard DFOS files."""
    if (root / CONFIG_FILE).exists() or not root.is_dir():
        return False
    return (_rc_file(root) is not None or (root / "monitor" / "DFO_STATUS").is_file()
            or any((root / "AB").glob("*.ab")))


@dataclass(frozen=True)
class DfosTree:
    root: Path
    rc: dict[str, str]
    """The ``.dfosrc`` assignments."""
    local: dict[str, Path]
    """Each directory variable -> where its files are on this machine."""
    named: dict[str, str]
    """Each directory variable -> its absolute path as ``.dfosrc`` names it (the old machine's)."""
    gen_caldir: Path | None
    """The static calibrations (``GEN_CALDIR`` of ``config.createAB``, else ``$DFO_CAL_DIR/GEN``)."""

    @property
    def instrument(self) -> str:
        return self.rc.get("DFO_INSTRUMENT", "")

    def prefixes(self) -> list[tuple[str, str]]:
        """(absolute directory, variable), longest first: what an absolute path in an AB maps to."""
        pairs = {(v.rstrip("/"), k) for k, v in self.named.items()}
        pairs |= {(str(p), k) for k, p in self.local.items()} | {(str(p.resolve()), k) for k, p in self.local.items()}
        return sorted(pairs, key=lambda pair: -len(pair[0]))


def _gen_caldir(local: dict[str, Path], named: dict[str, str]) -> Path | None:
    config = local.get("DFO_CONFIG_DIR")
    for candidate in ([config / "OCA" / "config.createAB", config / "config.createAB"] if config else []):
        if candidate.is_file():
            for line in candidate.read_text(encoding="utf-8", errors="replace").splitlines():
                fields = line.split("#", 1)[0].split()
                if len(fields) == 2 and fields[0] == "GEN_CALDIR":
                    return _localise(fields[1], local, named)
    cal = local.get("DFO_CAL_DIR")
    return cal / "GEN" if cal is not None and (cal / "GEN").is_dir() else None


def _localise(path: str, local: dict[str, Path], named: dict[str, str]) -> Path | None:
    """An old absolute path as a path on this machine (through the directory it lies in)."""
    if Path(path).is_dir():
        return Path(path)
    for key, old in sorted(named.items(), key=lambda kv: -len(kv[1])):
        if (path == old or path.startswith(old.rstrip("/") + "/")) and key in local:
            found = local[key] / path[len(old.rstrip("/")):].lstrip("/")
            return found if found.is_dir() else None
    return None


def open_dfos_tree(root: Path) -> DfosTree:
    rc_file = _rc_file(root)
    rc = parse_dfosrc(rc_file.read_text(encoding="utf-8", errors="replace")) if rc_file else {}
    local: dict[str, Path] = {}
    named: dict[str, str] = {}
    for key, standard in DFOS_DIRECTORIES.items():
        value = rc.get(key, "")
        if value.startswith("/"):
            named[key] = value
        choices = ([Path(value)] if value.startswith("/") else []) + [root / Path(value).name if value else root,
                                                                      root / standard]
        found = next((c for c in choices if c != root and c.is_dir()), None)
        if found is not None:
            local[key] = found
    return DfosTree(root, rc, local, named, _gen_caldir(local, named))


# -- ABs ------------------------------------------------------------------------------------------------


def _map_token(token: str, prefixes: list[tuple[str, str]]) -> str | None:
    for prefix, var in prefixes:
        if token == prefix or token.startswith(prefix + "/"):
            return f"${var}{token[len(prefix):]}"
    return None


def _complete_calib(line: str) -> str:
    """A DFOS ``MCALIB <file> <TAG>`` line (two fields) as dfos writes it: ``<header> <TAG> <file>``."""
    key, *fields = line.split()
    virtual = fields[:1] == ["VIRTUAL"]
    rest = fields[1:] if virtual else fields
    if key in ("MCALIB", "MASSOC") and len(rest) == 2:
        return "  ".join([key, *(["VIRTUAL"] if virtual else []), rest[0], rest[1], rest[0]])
    return line


def map_ab_text(text: str, prefixes: list[tuple[str, str]]) -> tuple[str, int, list[str]]:
    """An AB's text with every absolute path in an old directory written as its ``$DFO_*`` reference; (text,
    paths mapped, paths it could not map).  Comment lines stay as they are (pure)."""
    mapped = 0
    unmapped: list[str] = []

    def one(match: re.Match[str]) -> str:
        nonlocal mapped
        ref = _map_token(match[0], prefixes)
        if ref is None:
            unmapped.append(match[0])
            return match[0]
        mapped += 1
        return ref

    lines = []
    for line in text.split("\n"):
        if line.strip() and not line.lstrip().startswith("#"):
            line = _complete_calib(_ABS_TOKEN.sub(one, line))
        lines.append(line)
    return "\n".join(lines), mapped, unmapped


def ab_transform(prefixes: list[tuple[str, str]], data: bytes, name: str) -> Transformed:
    """An AB of the tree as NEW keeps it: its paths mapped, read by dfos's AB reader (one it cannot read is set
    aside with the reason)."""
    text = data.decode("utf-8", errors="replace")
    if not text.endswith("\n"):
        text += "\n"
    new, mapped, unmapped = map_ab_text(text, prefixes)
    notes = (f"{mapped} absolute paths written as $DFO_* references",) if mapped else ()
    try:
        parse(new, name)
    except DfosError as exc:
        return Transformed(new.encode(), notes, tuple(unmapped), aside=f"dfos cannot read it: {exc.message}")
    return Transformed(new.encode(), notes, tuple(unmapped))


def status_transform(data: bytes) -> Transformed:
    """DFO_STATUS: the ``<flag> <date> <time>`` lines (the disk values dfoMonitor kept there are left out)."""
    lines, bad = parse_text(data.decode("utf-8", errors="replace"))
    kept = "".join(f"{line.flag} {line.key} {format_timestamp(line.timestamp)}\n" for line in lines)
    return Transformed(kept.encode(), (f"{len(bad)} lines that are no status flag left out",) if bad else ())


def ab_list_transform(data: bytes, name: str) -> Transformed | None:
    try:
        parse_ab_list(data.decode("utf-8", errors="replace"), name)
    except DfosError as exc:
        return Transformed(data, aside=f"dfos cannot read it: {exc.message}")
    return None


def tree_transform(tree: DfosTree, new_dirs: dict[str, Path]) -> Transform:
    """The transform of a DFOS tree's files (for :func:`dfos.steps.migrate.sync.sync`)."""
    prefixes = tree.prefixes()
    text_map = sorted(((old, str(new_dirs[key])) for old, key in prefixes if key in new_dirs),
                      key=lambda pair: -len(pair[0]))

    def transform(key: str, rel: PurePosixPath, data: bytes) -> Transformed | None:
        if rel.suffix == ".ab":
            return ab_transform(prefixes, data, f"{key}/{rel}")
        if key == "DFO_MON_DIR" and rel.name == "DFO_STATUS":
            return status_transform(data)
        if key == "DFO_MON_DIR" and rel.name.startswith("AB_list_"):
            return ab_list_transform(data, f"{key}/{rel}")
        return rewrite_text(data, text_map)

    return transform


def rewrite_text(data: bytes, pairs: list[tuple[str, str]]) -> Transformed | None:
    """A text file with each old absolute directory (``pairs``: old -> new, longest first) written as the new one;
    None for a binary file or one that names none."""
    if b"\0" in data[:8192]:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    count = 0
    for old, new in pairs:
        pattern = re.compile(re.escape(old) + r"(?=[/\s'\";:]|$)", re.MULTILINE)
        text, n = pattern.subn(new.replace("\\", "\\\\"), text)
        count += n
    if not count:
        return None
    return Transformed(text.encode("utf-8"), (f"{count} occurrences of OLD's directories written as NEW's",))


# -- QC1 exports -------------------------------------------------------------------------------------------

#: The columns of a QC1 text export (CSV with this header row; the first four are required).
QC1_COLUMNS = ("date", "ab", "parameter", "value", "product", "pro_catg", "raw_type", "setup", "mjd_obs", "unit",
               "score", "batch_id", "description")


def _qc1_row(raw: dict[str, str], instrument: str, source: str, stamp: str) -> dict[str, object]:
    day = parse_date(raw["date"].strip()).isoformat()
    text = raw["value"].strip()
    try:
        value: float | None = float(text)
    except ValueError:
        value = None
    score = (raw.get("score") or "").strip()
    if score not in ("", "0", "1"):
        raise ValueError(f"score {score!r} is not 0, 1 or empty")
    ab = raw["ab"].strip()
    if not ab or not raw["parameter"].strip():
        raise ValueError("ab and parameter must not be empty")
    return {
        "ab": ab, "batch_id": (raw.get("batch_id") or "").strip() or f"CALIB_{day}", "date": day,
        "instrument": instrument, "raw_type": (raw.get("raw_type") or "").strip() or "UNKNOWN",
        "pro_catg": (raw.get("pro_catg") or "").strip() or "UNKNOWN", "product": (raw.get("product") or "").strip(),
        "setup": (raw.get("setup") or "").strip(), "mjd_obs": float((raw.get("mjd_obs") or "0").strip() or 0),
        "name": raw["parameter"].strip(), "value": value, "text": text, "unit": (raw.get("unit") or "").strip(),
        "description": (raw.get("description") or "").strip(), "source": source,
        "score": int(score) if score else None, "low": None, "high": None, "method": None, "updated": stamp,
    }


def read_qc1_export(path: Path, instrument: str) -> tuple[list[dict[str, object]], list[str]]:
    """The ``qc1_params`` rows of a QC1 text export, and its refused lines (``file:line: reason``).

    Format: CSV (comma-separated, RFC 4180 quoting) with a header row naming columns of :data:`QC1_COLUMNS` in any
    order; ``date``, ``ab``, ``parameter`` and ``value`` are required; ``score`` is 0 (green), 1 (red) or empty.
    Lines starting with ``#`` are comments.  ``updated`` of the rows is the file's modification time, so the same
    file gives the same rows."""
    stamp = format_timestamp(datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None))
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    fields = reader.fieldnames or []
    missing = [c for c in QC1_COLUMNS[:4] if c not in fields]
    if missing:
        return [], [f"{path}: no column {missing[0]!r} in the header row (need {', '.join(QC1_COLUMNS[:4])})"]
    rows, refused = [], []
    for number, raw in enumerate(reader, start=2):
        try:
            rows.append(_qc1_row(raw, instrument, f"import:{path.name}", stamp))
        except (ValueError, DfosError, AttributeError) as exc:
            refused.append(f"{path}:{number}: {exc}")
    return rows, refused


def qc1_exports(root: Path) -> Iterator[Path]:
    """The QC1 text exports of a tree: ``qc1/*.csv``."""
    yield from sorted((root / "qc1").glob("*.csv"))
