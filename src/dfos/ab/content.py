"""An AB's content key: what its recipe call is made of, as one SHA-256 (pure).

Two ABs with the same content key run the same recipe of the same pipeline with the same parameters on
the same bytes, so they make the same products: dfos runs one and reuses its products for the other
(:mod:`dfos.steps.reuse`).  The key is the SHA-256 (hex) of the canonical serialisation
:func:`serialise`, a JSON array written with sorted keys, no blanks and ASCII only::

    ["dfos-content-key/1", <recipe>, <pipeline>, [<param>, ...], [<input>, ...]]

* ``recipe``: RECIPE; ``pipeline``: the installed pipeline of the recipe, ``<name>-<version>``
  (``naco-4.4.11``; ``<name>-none`` when it is not installed);
* the parameters in their order (PARAM lines: order matters to esorex, the last one given wins);
* one input per SOF line, in SOF order (what the recipe reads: SOF_CONTENT):

  - a raw frame: ``["raw", <TAG>, <ARCFILE>, <checksum or "">]``; archive files are immutable, so
    the ARCFILE names its bytes; the checksum is added when one is known;
  - a virtual calibration (``MCALIB VIRTUAL ... by=<AB>``): ``["virtual", <TAG>, <content key of the AB
    that makes it>]``, so that keys chain through the cascade: a parent's changed key changes every
    descendant's;
  - any other file (a certified master, a static calibration): ``["file", <TAG>, <identity>]``, its
    identity being ``sha256:<hex>`` of the file, or ``name:<file name>`` when the file is not on disk
    (a certified master kept in the archive, immutable under its name).

An AB whose virtual input is made by an AB without a key (an AB file written before content keys)
has no key either (None): it is run, never reused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from dfos.ab.model import AB

__all__ = ["KEY_VERSION", "ContentParts", "Input", "content_key", "descendants", "keys_in_order", "parts_of",
           "serialise"]

#: The first element of every serialisation: a new layout gets a new version, so old keys never match.
KEY_VERSION = "dfos-content-key/1"

#: One input as serialised: ``("raw", TAG, ARCFILE, checksum)``, ``("virtual", TAG, key)``, ``("file", TAG, id)``.
Input = tuple[str, ...]


@dataclass(frozen=True)
class ContentParts:
    """Everything an AB's content key is made of."""

    recipe: str
    pipeline: str
    params: tuple[str, ...]
    inputs: tuple[Input, ...]


def serialise(parts: ContentParts) -> bytes:
    """The canonical bytes of ``parts`` (see the module docstring)."""
    doc = [KEY_VERSION, parts.recipe, parts.pipeline, list(parts.params), [list(i) for i in parts.inputs]]
    return json.dumps(doc, ensure_ascii=True, separators=(",", ":"), sort_keys=True).encode("ascii")


def content_key(parts: ContentParts) -> str:
    """The SHA-256 (64 hex digits) of :func:`serialise`."""
    return hashlib.sha256(serialise(parts)).hexdigest()


def parts_of(ab: AB, pipeline: str, parent_key: Callable[[str], str | None],
             file_identity: Callable[[str], str], raw_checksum: Mapping[str, str] | None = None) -> ContentParts | None:
    """The parts of ``ab``'s key: ``pipeline`` its recipe's pipeline (``naco-4.4.11``); ``parent_key(AB)`` the
    key of the AB that makes a virtual input (None: unknown); ``file_identity(path)`` the identity of a file
    input (its SOF path as the AB writes it); ``raw_checksum`` ARCFILE -> checksum, when known.
    None when a parent's key is unknown."""
    raws = {raw.ref for raw in ab.rawfiles}
    virtual = {cal.sof_path: cal.producer for cal in ab.mcalib if cal.virtual}
    inputs: list[Input] = []
    for path, tag in ab.sof:
        if path in raws:
            arcfile = PurePosixPath(path).name
            inputs.append(("raw", tag, arcfile, (raw_checksum or {}).get(arcfile, "")))
        elif path in virtual:
            producer = virtual[path]
            parent = parent_key(producer) if producer else None
            if parent is None:
                return None
            inputs.append(("virtual", tag, parent))
        else:
            inputs.append(("file", tag, file_identity(path)))
    return ContentParts(ab.recipe, pipeline, tuple(ab.params), tuple(inputs))


def keys_in_order(abs_: Sequence[AB], pipeline: Callable[[str], str], outside: Callable[[str], str | None],
                  file_identity: Callable[[str], str],
                  raw_checksum: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The content key of each of ``abs_`` (name -> key, None: no key), parents first: a virtual input made by
    one of ``abs_`` takes that AB's key computed here, one made by another AB (of another batch: a science AB's
    flat) takes ``outside(AB)``.  ``pipeline(recipe)`` names the recipe's pipeline and version."""
    by_name = {ab.name: ab for ab in abs_}
    keys: dict[str, str | None] = {}

    def key_of(name: str, chain: frozenset[str]) -> str | None:
        if name in keys:
            return keys[name]
        if name not in by_name:
            return outside(name)
        if name in chain:  # a cycle cannot run; no key
            return None
        ab = by_name[name]
        parts = parts_of(ab, pipeline(ab.recipe), lambda parent: key_of(parent, chain | {name}), file_identity,
                         raw_checksum)
        keys[name] = None if parts is None else content_key(parts)
        return keys[name]

    for ab in abs_:
        key_of(ab.name, frozenset())
    return keys


def descendants(abs_: Iterable[AB], roots: Iterable[str]) -> set[str]:
    """The ABs that read a virtual product of one of ``roots``, directly or not (the roots excluded unless
    they descend from another root): those whose key a change of the roots changes."""
    children: dict[str, set[str]] = {}
    for ab in abs_:
        for cal in ab.mcalib:
            if cal.virtual and cal.producer:
                children.setdefault(cal.producer, set()).add(ab.name)
    found: set[str] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found
