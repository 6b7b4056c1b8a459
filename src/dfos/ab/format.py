"""The AB text format: one qualifier per line, as DFOS writes ABs (documented in docs/formats.md).

``render(ab)`` and ``parse(text)`` are pure and inverse of each other:
``parse(render(ab)) == ab``.  The text holds no time stamp, so the same
association gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator

from dfos import __version__
from dfos.ab.model import AB, CalibInput, Completeness, ProcessStatus, Product, RawInput
from dfos.errors import FormatError

__all__ = ["STATUS_WIDTH", "parse", "render", "render_lines"]

_WIDTH = 16
#: PROCESS_STATUS is padded with blanks to the longest status, so processAB can rewrite it in place.
STATUS_WIDTH = max(len(s.value) for s in ProcessStatus)


def _q(key: str, *values: object) -> str:
    return f"{key:<{_WIDTH}}" + "  ".join(str(v) for v in values)


def render_lines(ab: AB) -> Iterator[str]:
    """The lines of an AB file."""
    yield f"# Association Block written by dfos {__version__} (dfos create-ab)"
    yield _q("TOOL_VERSION", f"dfos-{__version__}")
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
        ("PROCESS_STATUS", ab.process_status.value.ljust(STATUS_WIDTH)),
        ("OBS_PROG_ID", ab.obs_prog_id),
        ("OBS_MODE", ab.obs_mode),
        ("OBS_ID", ab.obs_id),
        ("MJD-OBS", f"{ab.mjd_obs:.8f}"),
        ("MJD-OBS_MOD", f"{ab.mjd_obs_mod:.8f}"),
        ("PROD_ROOT_NAME", ab.prod_root),
        ("LOG_NAME", ab.log_name),
    ):
        yield _q(key, value)
    yield "# pipeline product path"
    yield _q("PROD_PATH", ab.prod_path)
    yield "# raw match keys"
    for key, value in ab.match_keys:
        yield _q("RAW_MATCH_KEY", f"{key}={value}")
    yield "# raw files"
    for raw in ab.rawfiles:
        yield _q("RAWFILE", raw.ref, raw.tag)
    yield "# master calibrations (VIRTUAL: made by an AB of the cascade)"
    for cal in ab.mcalib:  # "MCALIB VIRTUAL" stays greppable, as DFOS tools expect
        fields = _calib_fields(cal)
        yield _q("MCALIB VIRTUAL", *fields[1:]) if cal.virtual else _q("MCALIB", *fields)
    if ab.massoc:
        yield "# associated files"
        for cal in ab.massoc:
            yield _q("MASSOC", *_calib_fields(cal))
    yield "# set of frames"
    for path, tag in ab.sof:
        yield _q("SOF_CONTENT", path, tag)
    if ab.params:
        yield "# recipe parameters"
        for param in ab.params:
            yield _q("PARAM", param)
    yield "# products"
    for product in ab.products:
        yield _q("PRODUCTS", product.name, product.catg)
    if ab.waitfor:
        yield "# dependencies"
        for parent in ab.waitfor:
            yield _q("WAITFOR", parent)
    if ab.missing:
        yield "# why INCOMPLETE"
        for reason in ab.missing:
            yield _q("MISSING", reason)


def _calib_fields(cal: CalibInput) -> list[str]:
    fields = ["VIRTUAL"] if cal.virtual else []
    fields += [cal.ref or "-", cal.tag or "-", cal.sof_path or "-"]
    if cal.producer:
        fields.append(f"by={cal.producer}")
    if cal.level is not None:
        fields.append(f"level={cal.level}")
    return fields


def render(ab: AB) -> str:
    """The AB file text."""
    return "\n".join(render_lines(ab)) + "\n"


def _calib(fields: list[str], where: str) -> CalibInput:
    virtual = bool(fields) and fields[0] == "VIRTUAL"
    if virtual:
        fields = fields[1:]
    if len(fields) < 3:
        raise FormatError(f"{where}: expected '[VIRTUAL] <header> <TAG> <file> [by=AB] [level=N]'")
    producer = level = None
    for extra in fields[3:]:
        key, _, value = extra.partition("=")
        if key == "by":
            producer = value
        elif key == "level":
            level = int(value)
    return CalibInput(fields[0], fields[1], fields[2], virtual, producer, level)


def parse(text: str, source: str = "<AB>") -> AB:
    """Read an AB file; raise :class:`FormatError` naming the line on anything unexpected."""
    single: dict[str, str] = {}
    lists: dict[str, list[list[str]]] = {}
    repeated = {"RAW_MATCH_KEY", "RAWFILE", "MCALIB", "MASSOC", "SOF_CONTENT", "PARAM", "PRODUCTS", "WAITFOR",
                "MISSING"}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, rest = line.partition(" ")
        if key in repeated:
            if key in ("PARAM", "MISSING"):
                lists.setdefault(key, []).append([rest.strip()])
            else:
                lists.setdefault(key, []).append(rest.split())
            continue
        single[key] = rest.strip()
    try:
        return AB(
            name=single["AB_NAME"],
            instrument=single["INSTRUMENT"],
            date=single["DATE"],
            dpr_catg=single["DPR_CATG"],
            raw_type=single["RAW_TYPE"],
            recipe=single["RECIPE"],
            drs_type=single["DRS_TYPE"],
            batch_id=single["BATCH_ID"],
            event=single["AB_EVENT"],
            action=single["ACTION"],
            completeness=Completeness(single["COMPLETENESS"]),
            process_status=ProcessStatus(single["PROCESS_STATUS"]),
            obs_prog_id=single["OBS_PROG_ID"],
            obs_id=single["OBS_ID"],
            obs_mode=single["OBS_MODE"],
            mjd_obs=float(single["MJD-OBS"]),
            mjd_obs_mod=float(single["MJD-OBS_MOD"]),
            prod_root=single["PROD_ROOT_NAME"],
            prod_path=single["PROD_PATH"],
            log_name=single["LOG_NAME"],
            match_keys=tuple(tuple(f[0].split("=", 1)) for f in lists.get("RAW_MATCH_KEY", [])),  # type: ignore[misc]
            rawfiles=tuple(RawInput(f[0], f[1]) for f in lists.get("RAWFILE", [])),
            mcalib=tuple(_calib(f, f"{source}: MCALIB") for f in lists.get("MCALIB", [])),
            massoc=tuple(_calib(f, f"{source}: MASSOC") for f in lists.get("MASSOC", [])),
            params=tuple(f[0] for f in lists.get("PARAM", [])),
            products=tuple(Product(f[0], f[1]) for f in lists.get("PRODUCTS", [])),
            waitfor=tuple(f[0] for f in lists.get("WAITFOR", [])),
            missing=tuple(f[0] for f in lists.get("MISSING", [])),
        )
    except KeyError as exc:
        raise FormatError(f"{source}: the qualifier {exc.args[0]} is missing; is this an AB file?") from None
    except (ValueError, IndexError) as exc:
        raise FormatError(f"{source}: unreadable AB ({exc})") from None
