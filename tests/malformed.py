"""Data for the bad-input tests: ABs as dfos writes them (examples and a Hypothesis strategy), and
mutations of a file's bytes (cut lines, duplicated lines, odd bytes, path escapes, huge lines)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from hypothesis import strategies as st

from dfos.ab.model import AB, CalibInput, Completeness, ProcessStatus, Product, RawInput

__all__ = ["MUTATIONS", "ab_strategy", "mutate", "mutations", "sample_ab", "sample_abs"]

_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+=,@%:.-"


def sample_ab(name: str = "UVES.2013-02-12T21:52:00.500_tpl.ab", virtual: bool = True) -> AB:
    """A COMPLETE flat AB with a virtual master bias, a certified one and a parameter (as create-ab writes)."""
    stem = name.removesuffix(".ab")
    bias = "r.UVES.2013-02-12T18:05:00.500_tpl_0000"
    mcalib = [CalibInput("$DFO_CAL_DIR/MCAL/2013-02-10/UV_MBIA_130210A_BLUE.hdr", "MASTER_BIAS_BLUE",
                         "$DFO_CAL_DIR/2013-02-10/UV_MBIA_130210A_BLUE.fits", level=1)]
    if virtual:
        mcalib.insert(0, CalibInput(f"$DFO_CAL_DIR/VCAL/2013-02-12/{bias}.hdr", "MASTER_BIAS_BLUE",
                                    f"$DFS_PRODUCT/BIAS_BLUE/2013-02-12/{bias}.fits", True,
                                    "UVES.2013-02-12T18:05:00.500_tpl.ab", 0))
    return AB(
        name=name, instrument="UVES", date="2013-02-12", dpr_catg="CALIB", raw_type="FLAT_BLUE",
        recipe="uves_cal_mflat", drs_type="CON", batch_id="CALIB_2013-02-12", event="UVES_MASTER_FLAT_B",
        action="UVES_MASTER_FLAT_B", completeness=Completeness.COMPLETE, process_status=ProcessStatus.CREATED,
        obs_prog_id="60.A-9022(C)", obs_id="200150005", obs_mode="NONE", mjd_obs=56335.9111169,
        mjd_obs_mod=56335.91117477, prod_root=f"r.{stem}", prod_path="$DFS_PRODUCT/FLAT_BLUE/2013-02-12",
        log_name=f"r.{stem}.log", match_keys=(("TPL.START", "2013-02-12T21:52:00"),),
        rawfiles=tuple(RawInput(f"$DFO_RAW_DIR/2013-02-12/UVES.2013-02-12T21:52:0{i}.500.fits", "FLAT_BLUE")
                       for i in range(3)),
        mcalib=tuple(mcalib), massoc=(), params=("--stack_method=median",),
        products=(Product(f"r.{stem}_0000.fits", "MASTER_FLAT_BLUE"),),
        waitfor=("UVES.2013-02-12T18:05:00.500_tpl.ab",) if virtual else (), missing=(),
    )


def sample_abs() -> list[AB]:
    """A few different ABs: with and without virtual inputs, INCOMPLETE, edited SOF_CONTENT."""
    flat = sample_ab()
    return [
        flat,
        sample_ab("UVES.2013-02-12T21:50:00.500_frm.ab", virtual=False),
        replace(flat, completeness=Completeness.INCOMPLETE, missing=("ORDER_TABLE: 0 of 1 required found",),
                process_status=ProcessStatus.FAILED),
        replace(flat, sof_content=flat.sof[1:]),
    ]


_names = st.builds(str.__add__, st.sampled_from(_SAFE[:-2]), st.text(_SAFE, max_size=29))
_words = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=20)
_one_line = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30).map(str.strip)
_nonempty_line = st.builds(str.__add__, _words, _one_line).map(str.strip)
_product_dirs = ["$DFO_CAL_DIR", "$DFS_PRODUCT", "$DFO_SCI_DIR"]
_paths = st.builds(lambda var, parts: "/".join([var, *parts]), st.sampled_from(["$DFO_RAW_DIR", *_product_dirs]),
                   st.lists(_names, min_size=1, max_size=3))
_prod_paths = st.builds(lambda var, parts: "/".join([var, *parts]), st.sampled_from(_product_dirs),
                        st.lists(_names, max_size=3))
_mjd = st.integers(0, 10**13).map(lambda n: n / 10**8)
_calibs = st.builds(CalibInput, _paths, _names, _paths, st.booleans(), st.none() | _names.map(lambda n: n + ".ab"),
                    st.none() | st.integers(0, 99))


@st.composite
def ab_strategy(draw: st.DrawFn) -> AB:
    """Any AB dfos may write: safe names, paths under the data directories, one-line values."""
    name = draw(_names) + ".ab"
    raws = draw(st.lists(st.builds(RawInput, _paths, _names), max_size=3))
    ab = AB(
        name=name, instrument=draw(_names), date=draw(st.dates()).isoformat().rjust(10, "0"),
        dpr_catg=draw(_one_line), raw_type=draw(_names), recipe=draw(_names), drs_type=draw(_one_line),
        batch_id=draw(_names), event=draw(_one_line), action=draw(_one_line),
        completeness=draw(st.sampled_from(Completeness)), process_status=draw(st.sampled_from(ProcessStatus)),
        obs_prog_id=draw(_one_line), obs_id=draw(_one_line), obs_mode=draw(_one_line), mjd_obs=draw(_mjd),
        mjd_obs_mod=draw(_mjd), prod_root=draw(_names), prod_path=draw(_prod_paths),
        log_name=draw(_names),
        match_keys=tuple(draw(st.lists(st.tuples(_words.filter(lambda w: "=" not in w), _one_line), max_size=3))),
        rawfiles=tuple(raws), mcalib=tuple(draw(st.lists(_calibs, max_size=3))),
        massoc=tuple(draw(st.lists(_calibs, max_size=2))),
        params=tuple(draw(st.lists(_nonempty_line, max_size=2))),
        products=tuple(draw(st.lists(st.builds(Product, _names, _names), max_size=3))),
        waitfor=tuple(draw(st.lists(_names.map(lambda n: n + ".ab"), max_size=2))),
        missing=tuple(draw(st.lists(_nonempty_line, max_size=2))),
    )
    if draw(st.booleans()):
        ab = replace(ab, sof_content=tuple(draw(st.lists(st.tuples(_paths, _names), min_size=1, max_size=3))))
    if draw(st.booleans()):  # CONTENT_KEY is optional: AB files written before content keys have none
        ab = replace(ab, content_key=draw(st.text("0123456789abcdef", min_size=64, max_size=64)))
    return ab


def _swap(lines: list[bytes], i: int) -> list[bytes]:
    return [*lines[:i], b"  ".join(reversed(lines[i].split(None, 1))) + b"\n", *lines[i + 1 :]]


def _edit(old: bytes, new: bytes) -> Callable[[list[bytes], int], list[bytes]]:
    """Replace the first ``old`` in line i by ``new``."""
    return lambda lines, i: [*lines[:i], lines[i].replace(old, new, 1), *lines[i + 1 :]]


#: Byte-level mutations of a text file: each takes the lines (with their newlines) and an index.
MUTATIONS: dict[str, Callable[[list[bytes], int], list[bytes]]] = {
    "drop_line": lambda lines, i: [*lines[:i], *lines[i + 1 :]],
    "duplicate_line": lambda lines, i: [*lines[: i + 1], *lines[i:]],
    "truncate_line": lambda lines, i: [*lines[:i], lines[i][: len(lines[i]) // 2]],
    "swap_fields": _swap,
    "non_utf8": lambda lines, i: [*lines[:i], lines[i][:5] + b"\xff\xfe\x80" + lines[i][5:], *lines[i + 1 :]],
    "nul_byte": _edit(b" ", b"\x00"),
    "dotdot": _edit(b"$", b"$DFS_PRODUCT/../../../../tmp/x/"),
    "dotdot_name": _edit(b"  ", b"  ../../"),
    "absolute": _edit(b"$DF", b"/etc/passwd/$DF"),
    "huge_line": lambda lines, i: [*lines[:i], lines[i].rstrip(b"\n") + b"9" * 100_000 + b"\n", *lines[i + 1 :]],
    "newline_in_value": _edit(b"  ", b"  \r\x85"),
    "nan": _edit(b"5", b"nan"),
    "crlf": lambda lines, i: [line.replace(b"\n", b"\r\n") for line in lines],
    "empty": lambda lines, i: [],
}


def mutate(data: bytes, kind: str, index: int) -> bytes:
    """``data`` with one mutation applied at line ``index`` (modulo the number of lines)."""
    lines = data.splitlines(keepends=True) or [b""]
    return b"".join(MUTATIONS[kind](lines, index % len(lines)))


def mutations() -> st.SearchStrategy[tuple[str, int]]:
    """A mutation kind and a line index."""
    return st.tuples(st.sampled_from(sorted(MUTATIONS)), st.integers(0, 1000))
