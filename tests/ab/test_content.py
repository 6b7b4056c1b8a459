"""Content keys (dfos.ab.content): any change of a part changes the key, the same parts give the same key,
and a parent's changed key changes every descendant's."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dfos.ab.content import ContentParts, content_key, descendants, keys_in_order, parts_of, serialise
from dfos.ab.model import AB, CalibInput, RawInput
from malformed import sample_ab

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_inputs = st.lists(st.one_of(
    st.tuples(st.just("raw"), _text, _text, _text),
    st.tuples(st.just("virtual"), _text, st.sampled_from([c * 64 for c in "0af"])),
    st.tuples(st.just("file"), _text, _text)), max_size=4).map(tuple)
_parts = st.builds(ContentParts, _text, _text, st.lists(_text, max_size=4).map(tuple), _inputs)


@st.composite
def _changed(draw: st.DrawFn, parts: ContentParts) -> ContentParts:
    """``parts`` with one part changed (a field, a parameter or an input edited, added, dropped or reordered)."""
    field = draw(st.sampled_from(["recipe", "pipeline", "params", "inputs"]))
    value = getattr(parts, field)
    if isinstance(value, str):
        new: object = value + draw(st.text(min_size=1, max_size=2)) if draw(st.booleans()) else value[1:] + "x"
    elif field == "params":
        new = draw(st.lists(_text, max_size=4).map(tuple) | st.permutations(value).map(tuple))
    else:
        new = draw(_inputs | st.permutations(value).map(tuple))
    assume(new != value)
    return ContentParts(**{**parts.__dict__, field: new})


@settings(max_examples=300, deadline=None)
@given(st.data(), _parts)
def test_any_change_of_a_part_changes_the_key(data: st.DataObject, parts: ContentParts) -> None:
    assert content_key(parts) == content_key(replace(parts))  # the same parts, the same key
    changed = data.draw(_changed(parts))
    assert serialise(changed) != serialise(parts)
    assert content_key(changed) != content_key(parts)


def test_the_serialisation_is_the_documented_json() -> None:
    parts = ContentParts("naco_img_twflat", "naco-4.4.11", ("--a=1",), (("raw", "FLAT", "NACO.x.fits", ""),))
    assert serialise(parts) == (b'["dfos-content-key/1","naco_img_twflat","naco-4.4.11",["--a=1"],'
                                b'[["raw","FLAT","NACO.x.fits",""]]]')
    assert len(content_key(parts)) == 64


def _chain() -> list[AB]:
    """dark -> flat -> science (two), and an unrelated AB, as createAB's ABs of two batches."""
    base = replace(sample_ab(), mcalib=(), massoc=(), params=(), waitfor=(), sof_content=None)

    def made(name: str, raw: str, parents: tuple[str, ...] = ()) -> AB:
        calibs = tuple(CalibInput(f"$DFO_CAL_DIR/VCAL/x/{p}.hdr", f"T{p}", f"$DFS_PRODUCT/X/{p}_0000.fits", True,
                                  f"{p}.ab") for p in parents)
        return replace(base, name=f"{name}.ab", recipe=f"r_{name[0]}", rawfiles=(RawInput(f"$DFO_RAW_DIR/d/{raw}",
                       "RAW"),), mcalib=(*calibs, CalibInput("$DFO_CAL_DIR/GEN/s.hdr", "STATIC",
                                                             "$DFO_CAL_DIR/GEN/s.fits")),
                       waitfor=tuple(f"{p}.ab" for p in parents))

    return [made("dark", "a.fits"), made("flat", "b.fits", ("dark",)), made("sci1", "c.fits", ("flat",)),
            made("sci2", "d.fits", ("flat", "dark")), made("other", "e.fits")]


def _keys(abs_: list[AB], pipeline: str = "p-1") -> dict[str, str | None]:
    return keys_in_order(abs_, lambda _r: pipeline, lambda _n: None, lambda path: f"name:{path}")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["dark.ab", "flat.ab", "other.ab"]), st.sampled_from(["params", "raw", "recipe"]),
       st.permutations(range(5)))
def test_a_parents_changed_key_changes_every_descendants_key(root: str, part: str, order: list[int]) -> None:
    abs_ = _chain()
    before = _keys(abs_)
    assert all(before.values()) and len(set(before.values())) == len(abs_)
    assert _keys([abs_[i] for i in order]) == before  # any order: parents are keyed first
    every: dict[str, dict[str, Any]] = {"params": {"params": ("--x=1",)}, "recipe": {"recipe": "r_new"},
                                        "raw": {"rawfiles": (RawInput("$DFO_RAW_DIR/d/z.fits", "RAW"),)}}
    changes = every[part]
    after = _keys([replace(ab, **changes) if ab.name == root else ab for ab in abs_])
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {root} | descendants(abs_, [root])
    assert {"dark.ab": {"flat.ab", "sci1.ab", "sci2.ab"}, "flat.ab": {"sci1.ab", "sci2.ab"},
            "other.ab": set()}[root] == descendants(abs_, [root])


def test_pipeline_file_identity_and_outside_parents_enter_the_key() -> None:
    abs_ = _chain()
    before = _keys(abs_)
    assert _keys(abs_, "p-2") != before and set(_keys(abs_, "p-2").values()).isdisjoint(before.values())
    other_static = keys_in_order(abs_, lambda _r: "p-1", lambda _n: None, lambda path: f"sha256:{path}")
    assert set(other_static.values()).isdisjoint(before.values())
    # a parent of another batch: its key comes from outside; unknown -> no key for it and its descendants
    science = abs_[2:4]
    assert keys_in_order(science, lambda _r: "p-1", lambda _n: None, str) == {"sci1.ab": None, "sci2.ab": None}
    outside = keys_in_order(science, lambda _r: "p-1", before.get, lambda path: f"name:{path}")
    assert outside == {"sci1.ab": before["sci1.ab"], "sci2.ab": before["sci2.ab"]}


def test_an_edited_sof_is_what_the_key_is_made_of() -> None:
    flat = _chain()[1]
    parts = parts_of(flat, "p-1", lambda _n: "k" * 64, lambda path: f"name:{path}")
    assert parts is not None and [i[0] for i in parts.inputs] == ["raw", "virtual", "file"]
    edited = replace(flat, sof_content=flat.derived_sof[:2])  # the operator dropped the static table
    edited_parts = parts_of(edited, "p-1", lambda _n: "k" * 64, lambda path: f"name:{path}")
    assert edited_parts is not None and content_key(edited_parts) != content_key(parts)
    checked = parts_of(flat, "p-1", lambda _n: "k" * 64, str, {"b.fits": "abc"})
    assert checked is not None and checked.inputs[0] == ("raw", "RAW", "b.fits", "abc")
