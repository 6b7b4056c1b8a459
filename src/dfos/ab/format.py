"""The AB text format: one qualifier per line, as DFOS writes ABs (documented in docs/formats.md).

``render(ab)`` and ``parse(text)`` are pure and inverse of each other:
``parse(render(ab)) == ab``.  The text holds no time stamp, so the same
association gives the same bytes.

Every name an AB gives that becomes a file name (the AB name, LOG_NAME, PROD_ROOT_NAME, RAW_TYPE,
product names, tags, WAITFOR parents) is checked with :func:`dfos.naming.safe_name`, and every path
(PROD_PATH, RAWFILE, MCALIB, MASSOC, SOF_CONTENT) must start with a DFOS data directory variable
and be made of safe names: :func:`check` does it, ``parse`` and ``render`` both call it, so an AB
that names a file outside the workspace's data directories is refused before anything is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dfos import __version__
from dfos.ab.model import AB, MJD_DECIMALS, CalibInput, Completeness, ProcessStatus, Product, RawInput
from dfos.errors import DfosError, FormatError
from dfos.keys import ProcessingKey
from dfos.naming import safe_name

__all__ = ["MAX_LEVEL", "MAX_LINE", "PATH_VARIABLES", "PRODUCT_VARIABLES", "STATUS_WIDTH", "check", "parse",
           "qualifier_line", "render", "render_lines", "status_slot", "status_value", "with_status"]

_WIDTH = 16
#: PROCESS_STATUS is padded with blanks to the longest status, so processAB can rewrite it in place.
STATUS_WIDTH = max(len(s.value) for s in ProcessStatus)
#: The largest quality level (``level=N``) an MCALIB or MASSOC line may give.
MAX_LEVEL = 999_999_999
#: The longest line (in characters) an AB file may hold.
MAX_LINE = 65536
#: The directories a path in an AB may start with (``$DFO_RAW_DIR/...``): where frames and products are.
PATH_VARIABLES = ("DFO_RAW_DIR", "DFO_CAL_DIR", "DFS_PRODUCT", "DFO_SCI_DIR")
#: The directories PROD_PATH may start with: where products are written.
PRODUCT_VARIABLES = ("DFS_PRODUCT", "DFO_CAL_DIR", "DFO_SCI_DIR")

_SINGLE = {
    "INSTRUMENT": "instrument", "DATE": "date", "DPR_CATG": "dpr_catg", "RAW_TYPE": "raw_type", "RECIPE": "recipe",
    "DRS_TYPE": "drs_type", "BATCH_ID": "batch_id", "AB_NAME": "name", "AB_EVENT": "event", "ACTION": "action",
    "COMPLETENESS": "completeness", "PROCESS_STATUS": "process_status", "OBS_PROG_ID": "obs_prog_id",
    "OBS_MODE": "obs_mode", "OBS_ID": "obs_id", "MJD-OBS": "mjd_obs", "MJD-OBS_MOD": "mjd_obs_mod",
    "PROD_ROOT_NAME": "prod_root", "LOG_NAME": "log_name", "PROD_PATH": "prod_path",
}
_REPEATED = ("RAW_MATCH_KEY", "RAWFILE", "MCALIB", "MASSOC", "SOF_CONTENT", "PARAM", "PRODUCTS", "WAITFOR", "MISSING")
_IGNORED = ("TOOL_VERSION",)
#: Single-valued qualifiers an AB file may leave out (files written before them): key -> AB field.
_OPTIONAL = {"CONTENT_KEY": "content_key"}
_CONTENT_KEY = re.compile(r"^[0-9a-f]{64}$")
#: What str.splitlines() breaks a line on: never inside a value.
_LINE_BREAK = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

def qualifier_line(key: str, *values: object) -> str:
    """One qualifier line as dfos writes it: the key padded to 16 columns, then the values two blanks apart.
    Every line of an AB file is written by this function (also a PROCESS_STATUS rewritten in place)."""
    return f"{key:<{_WIDTH}}" + "  ".join(str(v) for v in values)


def status_value(status: ProcessStatus) -> str:
    """PROCESS_STATUS as written: padded with blanks to :data:`STATUS_WIDTH`, so that any status can
    later overwrite it in place."""
    return status.value.ljust(STATUS_WIDTH)


def _single_lines(ab: AB) -> Iterator[str]:
    """The single-valued qualifiers, in the order DFOS writes them."""
    for key, value in (
        ("INSTRUMENT", ab.instrument),
        ("DATE", ab.date),
        ("DPR_CATG", ab.dpr_catg),
        ("RAW_TYPE", ab.raw_type),
        ("RECIPE", ab.recipe),
        ("DRS_TYPE", ab.drs_type),
        ("BATCH_ID", ab.batch_id),
        ("AB_NAME", ab.name),
        ("AB_EVENT", ab.event),
        ("ACTION", ab.action),
        ("COMPLETENESS", ab.completeness.value),
        ("PROCESS_STATUS", status_value(ab.process_status)),
        ("OBS_PROG_ID", ab.obs_prog_id),
        ("OBS_MODE", ab.obs_mode),
        ("OBS_ID", ab.obs_id),
        ("MJD-OBS", f"{ab.mjd_obs:.{MJD_DECIMALS}f}"),
        ("MJD-OBS_MOD", f"{ab.mjd_obs_mod:.{MJD_DECIMALS}f}"),
        ("PROD_ROOT_NAME", ab.prod_root),
        ("LOG_NAME", ab.log_name),
    ):
        yield qualifier_line(key, value)
    if ab.content_key is not None:
        yield qualifier_line("CONTENT_KEY", ab.content_key)


def _mcalib_line(cal: CalibInput) -> str:
    fields = _calib_fields(cal)  # "MCALIB VIRTUAL" stays greppable, as DFOS tools expect
    return qualifier_line("MCALIB VIRTUAL", *fields[1:]) if cal.virtual else qualifier_line("MCALIB", *fields)


def _sof_comment(ab: AB) -> str:
    edited = " (edited: it differs from RAWFILE and MCALIB, and it is what processAB uses)"
    return "# set of frames" + (edited if ab.sof_edited else "")


#: The sections after the single-valued qualifiers, in file order: (their comment line, "" for the SOF's
#: (:func:`_sof_comment`); whether it is written when there are no items; the items; the line of one item).
_Section = tuple[str, bool, Callable[[AB], Sequence[Any]], Callable[[Any], str]]
_SECTIONS: tuple[_Section, ...] = (
    ("# pipeline product path", True, lambda ab: (ab.prod_path,), lambda path: qualifier_line("PROD_PATH", path)),
    ("# raw match keys", True, lambda ab: ab.match_keys,
     lambda pair: qualifier_line("RAW_MATCH_KEY", f"{pair[0]}={pair[1]}")),
    ("# raw files", True, lambda ab: ab.rawfiles, lambda raw: qualifier_line("RAWFILE", raw.ref, raw.tag)),
    ("# master calibrations (VIRTUAL: made by an AB of the cascade)", True, lambda ab: ab.mcalib, _mcalib_line),
    ("# associated files", False, lambda ab: ab.massoc, lambda cal: qualifier_line("MASSOC", *_calib_fields(cal))),
    ("", True, lambda ab: ab.sof, lambda line: qualifier_line("SOF_CONTENT", *line)),
    ("# recipe parameters", False, lambda ab: ab.params, lambda param: qualifier_line("PARAM", param)),
    ("# products", True, lambda ab: ab.products, lambda p: qualifier_line("PRODUCTS", p.name, p.catg)),
    ("# dependencies", False, lambda ab: ab.waitfor, lambda parent: qualifier_line("WAITFOR", parent)),
    ("# why INCOMPLETE", False, lambda ab: ab.missing, lambda reason: qualifier_line("MISSING", reason)),
)


def render_lines(ab: AB) -> Iterator[str]:
    """The lines of an AB file; :class:`FormatError` (from :func:`check`) for an AB that could not be read back."""
    check(ab)
    yield f"# Association Block written by dfos {__version__} (dfos create-ab)"
    yield qualifier_line("TOOL_VERSION", f"dfos-{__version__}")
    yield from _single_lines(ab)
    for comment, always, items_of, line_of in _SECTIONS:
        items = items_of(ab)
        if items or always:
            yield comment or _sof_comment(ab)
            yield from (line_of(item) for item in items)


def _calib_fields(cal: CalibInput) -> list[str]:
    """The fields of an MCALIB or MASSOC line (:func:`check` refused empty ones: none is ever left out)."""
    fields = ["VIRTUAL"] if cal.virtual else []
    fields += [cal.ref, cal.tag, cal.sof_path]
    if cal.producer is not None:
        fields.append(f"by={cal.producer}")
    if cal.level is not None:
        fields.append(f"level={cal.level}")
    return fields


def render(ab: AB) -> str:
    """The AB file text."""
    return "\n".join(render_lines(ab)) + "\n"


# -- PROCESS_STATUS, rewritten in place -------------------------------------------------------------------

#: The PROCESS_STATUS line of an AB's text, however it is spaced (a hand-written AB may differ).
_STATUS_LINE = re.compile(r"^PROCESS_STATUS[ \t]+\S+[ \t]*$", re.MULTILINE)
#: Its value with the blanks after it: the bytes a new status may overwrite.
_STATUS_SLOT = re.compile(rb"^PROCESS_STATUS[ \t]+(\S+ *)$", re.MULTILINE)


def status_slot(head: bytes) -> tuple[int, int] | None:
    """Where PROCESS_STATUS's value is in the first bytes of an AB file: (byte offset, width including the
    padding); None when these bytes hold no PROCESS_STATUS line."""
    found = _STATUS_SLOT.search(head)
    return (found.start(1), len(found[1])) if found else None


def with_status(text: str, status: ProcessStatus) -> str | None:
    """An AB's text with its PROCESS_STATUS line written anew (padded, as :func:`render` writes it) and every
    other byte as it was; None when the text has no PROCESS_STATUS line."""
    updated, count = _STATUS_LINE.subn(qualifier_line("PROCESS_STATUS", status_value(status)), text, count=1)
    return updated if count else None


# -- checks ---------------------------------------------------------------------------------------


def _text(value: str, what: str) -> str:
    """A one-line value: no line break, no blanks around it (they would not survive the round trip)."""
    if _LINE_BREAK.search(value) or value != value.strip():
        raise FormatError(f"{what} {_shown(value)} must be one line without blanks around it")
    return value


def _word(value: str, what: str) -> str:
    """A value written as one field of a line: no blank, no control character, not empty."""
    if not value or any(c.isspace() for c in value) or _CONTROL.search(value):
        raise FormatError(f"{what} {_shown(value)} must be one word (no blank, no control character)")
    return value


def _shown(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "...'"


def _path(value: str, what: str, variables: tuple[str, ...] = PATH_VARIABLES, absolute: bool = False) -> str:
    """``$VARIABLE/name/name...`` with a DFOS data directory and safe names (or, when ``absolute``,
    also an absolute path without ``.``/``..``): a path that stays in the workspace's data directories."""
    _word(value, what)
    if absolute and value.startswith("/"):
        parts = value.split("/")[1:]
        if not parts or any(p in ("", ".", "..") for p in parts):
            raise FormatError(f"{what} {_shown(value)}: an absolute path must not hold '.', '..' or '//'")
        return value
    head, *parts = value.split("/")
    if not head.startswith("$") or head[1:] not in variables:
        allowed = ", ".join(f"${v}" for v in variables)
        raise FormatError(f"{what} {_shown(value)} must start with one of {allowed}")
    for part in parts:
        safe_name(part, f"{what} component")
    return value


def _calib_check(cal: CalibInput, what: str) -> None:
    _path(cal.ref, f"{what} header")
    safe_name(cal.tag, f"{what} tag")
    _path(cal.sof_path, f"{what} file")
    if cal.producer is not None:
        safe_name(cal.producer, f"{what} by= (producing AB)")
    if cal.level is not None and not 0 <= cal.level <= MAX_LEVEL:
        raise FormatError(f"{what} level={cal.level} must be 0 to {MAX_LEVEL}")


def _other_key(value: str) -> bool:
    """Whether ``value`` is written as a processing key that is no date (a run ID, a project)."""
    try:
        return ProcessingKey.parse(value).text == value
    except DfosError:
        return False


def _check_single(ab: AB, key: str) -> None:
    """Check the value of one single-valued qualifier."""
    value = getattr(ab, _SINGLE[key])
    if key == "AB_NAME":
        safe_name(value, key)
        if not value.endswith(".ab"):
            raise FormatError(f"AB_NAME {_shown(value)} must end in .ab")
    elif key == "DATE":  # a processing key: a DFO date, a run ID (DEEP mode) or a project
        if not _DATE.fullmatch(value) and not _other_key(value):
            raise FormatError(f"DATE {_shown(value)} is not a date YYYY-MM-DD nor another processing key "
                              "(a run ID like 090.C-0456A, a project)")
    elif key in ("INSTRUMENT", "RAW_TYPE", "RECIPE", "BATCH_ID", "PROD_ROOT_NAME", "LOG_NAME"):
        safe_name(value, key)
    elif key in ("MJD-OBS", "MJD-OBS_MOD"):
        if not math.isfinite(value) or abs(value) >= 1e15:
            raise FormatError(f"{key} {value!r} is not a usable MJD")
    elif key == "PROD_PATH":
        _path(value, key, PRODUCT_VARIABLES)
    elif key not in ("COMPLETENESS", "PROCESS_STATUS"):
        _text(value, key)


def _check_match(pair: tuple[str, str]) -> None:
    key, value = pair
    if "=" in key:
        raise FormatError(f"RAW_MATCH_KEY {_shown(key)} must not hold '='")
    _word(key, "RAW_MATCH_KEY")
    _text(value, f"RAW_MATCH_KEY {key}")


def _check_raw(raw: RawInput) -> None:
    _path(raw.ref, "RAWFILE")
    safe_name(raw.tag, "RAWFILE tag")


def _check_sof(line: tuple[str, str]) -> None:
    _path(line[0], "SOF_CONTENT", absolute=True)
    safe_name(line[1], "SOF_CONTENT tag")


def _check_product(product: Product) -> None:
    safe_name(product.name, "PRODUCTS file")
    safe_name(product.catg, "PRODUCTS PRO.CATG")


def _check_line(what: str) -> Callable[[str], None]:
    def checker(value: str) -> None:
        _text(value, what)
        if not value:
            raise FormatError(f"{what} is empty")
    return checker


def _check_content_key(value: str) -> None:
    if not _CONTENT_KEY.fullmatch(value):
        raise FormatError(f"CONTENT_KEY {_shown(value)} must be 64 lower-case hex digits (a SHA-256)")


def _check_waitfor(parent: str) -> None:
    safe_name(parent, "WAITFOR")


#: The check of each item of a repeated qualifier.
_ITEM_CHECKS: dict[str, Callable[[Any], None]] = {
    "RAW_MATCH_KEY": _check_match, "RAWFILE": _check_raw, "MCALIB": lambda c: _calib_check(c, "MCALIB"),
    "MASSOC": lambda c: _calib_check(c, "MASSOC"), "SOF_CONTENT": _check_sof, "PARAM": _check_line("PARAM"),
    "PRODUCTS": _check_product, "WAITFOR": _check_waitfor, "MISSING": _check_line("MISSING"),
}


def _repeated(ab: AB) -> dict[str, tuple[Any, ...]]:
    return {"RAW_MATCH_KEY": ab.match_keys, "RAWFILE": ab.rawfiles, "MCALIB": ab.mcalib, "MASSOC": ab.massoc,
            "SOF_CONTENT": ab.sof, "PARAM": ab.params, "PRODUCTS": ab.products, "WAITFOR": ab.waitfor,
            "MISSING": ab.missing}


def check(ab: AB) -> AB:
    """Return ``ab`` if every name it gives is safe and every value survives the round trip, else
    raise :class:`FormatError` (:class:`~dfos.errors.UnsafeName` for a name or path) saying which."""
    for key in _SINGLE:
        _check_single(ab, key)
    for key, items in _repeated(ab).items():
        for item in items:
            _ITEM_CHECKS[key](item)
    if ab.content_key is not None:
        _check_content_key(ab.content_key)
    if ab.sof_content == ():  # no SOF_CONTENT line reads back as "the SOF RAWFILE and MCALIB give"
        raise FormatError("SOF_CONTENT is edited to list no file: a recipe needs at least one")
    return ab


# -- parsing --------------------------------------------------------------------------------------


def _calib(fields: list[str], where: str) -> CalibInput:
    virtual = bool(fields) and fields[0] == "VIRTUAL"
    if virtual:
        fields = fields[1:]
    if len(fields) < 3:
        raise FormatError(f"{where}: expected '[VIRTUAL] <header> <TAG> <file> [by=AB] [level=N]'")
    producer: str | None = None
    level: int | None = None
    for extra in fields[3:]:
        key, sep, value = extra.partition("=")
        if key == "by" and sep and producer is None:
            producer = value
        elif key == "level" and sep and level is None and value.isascii() and value.isdigit() and len(value) <= 9:
            level = int(value)
        else:
            raise FormatError(f"{where}: unexpected field {_shown(extra)} (only by=<AB> and level=<N>, once each)")
    return CalibInput(fields[0], fields[1], fields[2], virtual, producer, level)


def _pair(fields: list[str], where: str, form: str) -> tuple[str, str]:
    if len(fields) != 2:
        raise FormatError(f"{where}: expected '{form}'")
    return fields[0], fields[1]


def _lines(text: str, source: str) -> Iterator[tuple[str, str, str]]:
    """``(where, key, rest)`` of each qualifier line."""
    for number, line in enumerate(text.split("\n"), start=1):
        where = f"{source}:{number}"
        if len(line) > MAX_LINE:
            raise FormatError(f"{where}: line longer than {MAX_LINE} characters")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            raise FormatError(f"{where}: a qualifier line must start in the first column")
        key, *rest = line.split(None, 1)
        yield where, key, (rest[0] if rest else "").strip()


def parse(text: str, source: str = "<AB>") -> AB:
    """Read an AB file; raise :class:`FormatError` naming the file and line on anything unexpected.

    An AB file ends with a newline (every line does, as dfos writes them): one that ends in the middle of a
    line was cut short, and its last line may look complete (a RAWFILE with half its tag), so it is refused.
    """
    if text and not text.endswith("\n"):
        last = text.count("\n") + 1
        raise FormatError(f"{source}:{last}: the file ends in the middle of a line: it was cut short (a full disk, a "
                          "killed copy); write it again ('dfos create-ab') or end its last line")
    single: dict[str, str] = {}
    seen: dict[str, str] = {}
    lists: dict[str, list[tuple[str, str]]] = {key: [] for key in _REPEATED}
    for where, key, rest in _lines(text, source):
        if key in _REPEATED:
            lists[key].append((where, rest))
        elif key in _SINGLE or key in _OPTIONAL:
            if key in single:
                raise FormatError(f"{where}: {key} given twice (first at line {seen[key].rsplit(':', 1)[1]})")
            single[key], seen[key] = rest, where
        elif key not in _IGNORED:
            raise FormatError(f"{where}: unknown qualifier {_shown(key)}; is this an AB file?")
    missing = [key for key in _SINGLE if key not in single]
    if missing:
        raise FormatError(f"{source}: the qualifier {missing[0]} is missing; is this an AB file?")
    values: dict[str, object] = {field: single[key] for key, field in _SINGLE.items()}
    values.update({field: single[key] for key, field in _OPTIONAL.items() if key in single})
    for key, field, kind in (("COMPLETENESS", "completeness", Completeness),
                             ("PROCESS_STATUS", "process_status", ProcessStatus)):
        try:
            values[field] = kind(single[key])
        except ValueError:
            choices = ", ".join(k.value for k in kind)
            raise FormatError(f"{seen[key]}: {key} {_shown(single[key])} is not one of {choices}") from None
    for key, field in (("MJD-OBS", "mjd_obs"), ("MJD-OBS_MOD", "mjd_obs_mod")):
        try:
            values[field] = float(single[key])
        except ValueError:
            raise FormatError(f"{seen[key]}: {key} {_shown(single[key])} is not a number") from None
    items = {key: tuple(_item(key, rest, where) for where, rest in lists[key]) for key in _REPEATED}
    ab = AB(
        **values,  # type: ignore[arg-type]
        match_keys=items["RAW_MATCH_KEY"], rawfiles=items["RAWFILE"], mcalib=items["MCALIB"],
        massoc=items["MASSOC"], params=items["PARAM"], products=items["PRODUCTS"], waitfor=items["WAITFOR"],
        missing=items["MISSING"],
        sof_content=items["SOF_CONTENT"] or None,  # no SOF_CONTENT line: the SOF is what RAWFILE and MCALIB give
    )
    _check_read(ab, seen)
    return ab


def _check_read(ab: AB, seen: dict[str, str]) -> None:
    """Check the single-valued qualifiers of an AB read, each error naming the line (``seen``: key -> file:line)."""
    for key in _SINGLE:
        _located(seen[key], _check_single, ab, key)
    if ab.content_key is not None:
        _located(seen["CONTENT_KEY"], _check_content_key, ab.content_key)


def _located(where: str, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, its FormatError prefixed with ``where`` (file:line)."""
    try:
        return function(*args)
    except FormatError as exc:
        raise type(exc)(f"{where}: {exc.message}") from None


def _item(key: str, rest: str, where: str) -> Any:
    """One repeated qualifier's value, parsed and checked."""
    if key == "RAW_MATCH_KEY":
        name, sep, value = rest.partition("=")
        if not sep or not name:
            raise FormatError(f"{where}: expected 'RAW_MATCH_KEY <KEY>=<value>'")
        item: Any = (name, value)
    elif key in ("MCALIB", "MASSOC"):
        item = _calib(rest.split(), f"{where}: {key}")
    elif key in ("RAWFILE", "SOF_CONTENT", "PRODUCTS"):
        pair = _pair(rest.split(), where, _FORMS[key])
        item = RawInput(*pair) if key == "RAWFILE" else Product(*pair) if key == "PRODUCTS" else pair
    else:
        item = rest
    _located(where, _ITEM_CHECKS[key], item)
    return item


_FORMS = {"RAWFILE": "RAWFILE <path> <TAG>", "SOF_CONTENT": "SOF_CONTENT <path> <TAG>",
          "PRODUCTS": "PRODUCTS <file> <PRO.CATG>"}
