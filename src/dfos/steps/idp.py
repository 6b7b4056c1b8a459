"""IDP mode: the science products of a date become Internal Data Products, with the header keywords of ESO's
Science Data Products standard (computed by :func:`dfos.qc.idp.image_keywords`; ``docs/idp.md``).

``move -m SCIENCE`` calls :func:`apply_idp` in IDP mode (:func:`idp_mode`: the phoenix flavour, or
``IDP_MODE``) on the accepted ABs' products before it plans the move, so the plan, the moved file and the
checksum ingest records are all of the final bytes.  Each product is rewritten atomically (a temporary
copy beside it, verified: every keyword reads back, every pixel is the same; then renamed into place), and
only when a keyword differs: running it again changes nothing.

Sources: the product's header; the headers of the AB's raw frames (``$DFO_HDR_DIR/<DATE>/<stem>.hdr``,
else the raw FITS); the product's QC1 parameters (``qc1_params``) and the ``QC ZPOINTRMS`` of the
standard star its ``QC ZPOINT SOURCE`` names; the instrument's :meth:`~dfos.instruments.base.Instrument.idp_image`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from sqlalchemy import select

from dfos.ab.model import AB
from dfos.config.settings import Flavour, Settings
from dfos.db import engine_for_url, qc1_params
from dfos.errors import StateError, WorkspaceError
from dfos.fsutil import atomic_path
from dfos.headers.header import Header
from dfos.headers.io import read_header
from dfos.qc.idp import Card, IdpKeywords, QcValues, image_keywords
from dfos.workspace import Workspace

__all__ = ["IdpProduct", "apply_idp", "idp_keywords", "idp_mode", "write_keywords"]


@dataclass(frozen=True)
class IdpProduct:
    path: Path
    keywords: IdpKeywords
    changed: bool
    """False: the product had every keyword already (a second run)."""


def idp_mode(settings: Settings) -> bool:
    """Science products become IDPs: the phoenix flavour, or ``IDP_MODE``."""
    return settings.FLAVOUR is Flavour.PHOENIX or settings.IDP_MODE


def raw_headers(workspace: Workspace, ab: AB) -> list[Header]:
    """The headers of the AB's raw frames, in RAWFILE order: the permanent ``.hdr`` copy, else the FITS file."""
    headers = []
    for raw in ab.rawfiles:
        fits_path = workspace.expand(raw.ref)
        hdr = workspace.hdr_dir / ab.date / f"{fits_path.name.removesuffix('.fits')}.hdr"
        source = hdr if hdr.is_file() else fits_path
        if not source.is_file():
            raise StateError(f"{ab.name}: neither {hdr} nor {fits_path} exists: the IDP keywords need the raw "
                             "headers; download them again ('dfos headers')")
        headers.append(read_header(source))
    return headers


def _qc_values(workspace: Workspace, ab: AB, product: str) -> QcValues:
    """The product's QC1 values, and the zero point's rms from the standard star its QC ZPOINT SOURCE names."""
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(qc1_params.c.name, qc1_params.c.value, qc1_params.c.text)
                          .where(qc1_params.c.ab == ab.name, qc1_params.c.product == product)).all()
        values = {name: value for name, value, _ in rows if value is not None}
        texts = {name: text for name, _, text in rows}
        source = Path(texts.get("QC ZPOINT SOURCE") or "").name
        rms = db.execute(select(qc1_params.c.value).where(qc1_params.c.product == source,
                                                          qc1_params.c.name == "QC ZPOINTRMS")).scalars().first() \
            if source.endswith(".fits") else None
    return QcValues(zero_point=values.get("QC ZPOINT"), zero_point_rms=rms,
                    fwhm_arcsec=values.get("QC FWHM ARCSEC"), strehl=values.get("QC STREHL"))


def _coverage(path: Path) -> int | None:
    """The highest value of the contribution map (the first image extension of the primary's shape)."""
    with fits.open(path, memmap=False) as hdul:
        shape = getattr(hdul[0], "shape", None)
        for hdu in hdul[1:]:
            if isinstance(hdu, fits.ImageHDU) and hdu.data is not None and hdu.data.shape == shape:
                return int(np.max(hdu.data))
    return None


def idp_keywords(workspace: Workspace, ab: AB, path: Path) -> IdpKeywords | None:
    """The SDP keywords of one product of ``ab``; None when its instrument makes no IDP of its PRO.CATG."""
    header = read_header(path)
    profile = workspace.instrument.idp_image(str(header.get("PRO.CATG", "")))
    if profile is None:
        return None
    return image_keywords(profile, header, raw_headers(workspace, ab), _qc_values(workspace, ab, path.name),
                          _coverage(path))


def _same(old: object, new: object) -> bool:
    if isinstance(new, float) and isinstance(old, int | float) and not isinstance(old, bool):
        return math.isclose(float(old), new, rel_tol=1e-12, abs_tol=1e-12)
    return type(old) is type(new) and old == new


def _holds(header: fits.Header, cards: tuple[Card, ...]) -> bool:
    return all(c.keyword in header and _same(header[c.keyword], c.value) for c in cards)


def _verify(copy: Path, original: fits.HDUList, cards: tuple[Card, ...]) -> None:
    """The copy holds every keyword and the original's pixels, HDU by HDU."""
    with fits.open(copy, memmap=False, checksum=True) as written:
        if len(written) != len(original) or not _holds(written[0].header, cards) or not all(
                np.array_equal(a.data, b.data, equal_nan=True) for a, b in zip(written, original, strict=True)):
            raise WorkspaceError(f"the rewritten copy of {original.filename()} does not hold what was written: "
                                 "the product is left as it was")


def write_keywords(path: Path, cards: tuple[Card, ...]) -> bool:
    """Write ``cards`` into the primary header of ``path`` (atomic, verified; CHECKSUM and DATASUM updated);
    False when it holds them all already."""
    with fits.open(path, memmap=False) as hdul:
        if _holds(hdul[0].header, cards):
            return False
        for card in cards:
            hdul[0].header[card.keyword] = (card.value, card.comment)
        with atomic_path(path) as tmp:
            hdul.writeto(tmp, overwrite=True, checksum=True, output_verify="exception")
            _verify(tmp, hdul, cards)
    return True


def apply_idp(workspace: Workspace, abs_: list[AB], accepted: Mapping[str, bool]) -> list[IdpProduct]:
    """The SDP keywords into every FITS product of each accepted AB whose category the instrument makes IDPs
    of; see the module docstring."""
    done = []
    for ab in abs_:
        if not accepted.get(ab.name):
            continue
        for path in sorted(workspace.expand(ab.prod_path).glob(f"{ab.prod_root}_*.fits")):
            keywords = idp_keywords(workspace, ab, path)
            if keywords is not None:
                done.append(IdpProduct(path, keywords, write_keywords(path, keywords.cards)))
    return done
