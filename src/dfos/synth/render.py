"""Turn a :class:`~dfos.synth.plan.FramePlan` into a raw FITS frame (headers and pixels).

Pixel model, per chip (x = column including prescan, y = row)::

    pre/overscan:  ADU = BIAS + GAIN * N(0, RON)
    illuminated:   ADU = BIAS + GAIN * (Poisson(S(x, y)) + N(0, RON))

with GAIN = 1/CONAD [ADU/e-] and S the expected electrons of the frame's
:class:`~dfos.synth.plan.Signal`: 0 for BIAS, DARK_CURRENT * EXPTIME for DARK,
echelle orders (running along y, spaced 48 to 75 px, tilted by -0.02 px/px)
for the lamps and the science trace.  Values are stored as int16 with the
float keywords BSCALE = 1.0 and BZERO = 32768.0, as real ESO raw files are
(UVES recipes reject integer BSCALE/BZERO).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import numpy as np
from astropy.io import fits

from dfos.dates import datetime_to_mjd
from dfos.headers.keywords import to_fits
from dfos.synth.plan import Arm, Chip, FramePlan, Signal

__all__ = ["LAMP_E", "frame_seed", "order_centres", "primary_cards", "render_frame"]

#: Peak electrons of the order-definition and flat lamps.
LAMP_E = 20000.0
ORDER_SLOPE = -0.02
"""dx/dy of the orders in raw coordinates (the pipeline rotates the frame; its Hough search needs 0..0.2)."""
ORDER_SPACING = (48.0, 75.0)
"""Order separation [px] at the left and right edge of the illuminated area."""
ORDER_MARGIN = 20.0
FLAT_HALF_WIDTH, FLAT_EDGE = 12.0, 1.5
ORDERDEF_SIGMA = 2.5
ARC_SIGMA_X, ARC_SIGMA_Y, ARC_LINES_PER_ORDER = 2.0, 1.3, 12
SCI_SIGMA, OBJECT_E, SKY_E = 2.5, 150.0, 5.0
COSMICS_PER_MPIX = 30

Profile = Callable[[np.ndarray], np.ndarray]


def order_centres(width: int) -> np.ndarray:
    """Centre columns of the echelle orders at the middle row of an illuminated area."""
    centres, x = [], ORDER_MARGIN
    while x < width - ORDER_MARGIN:
        centres.append(x)
        x += ORDER_SPACING[0] + (ORDER_SPACING[1] - ORDER_SPACING[0]) * x / max(width, 1)
    return np.array(centres)


def _blaze(height: int) -> np.ndarray:
    y = np.arange(height) - height / 2.0
    return np.asarray(0.4 + 0.6 * np.cos(0.9 * np.pi * y / height) ** 2)


def _trace(centre: float, height: int) -> np.ndarray:
    return np.asarray(centre + ORDER_SLOPE * (np.arange(height) - height / 2.0))


def _gauss(sigma: float) -> Profile:
    return lambda dx: np.exp(-0.5 * (dx / sigma) ** 2)


def _box(half_width: float, edge: float) -> Profile:
    return lambda dx: 0.5 * (np.tanh((half_width - np.abs(dx)) / edge) + 1.0)


def _add_orders(image: np.ndarray, profile: Profile, reach: float, amplitude: np.ndarray) -> None:
    height, width = image.shape
    for centre in order_centres(width):
        trace = _trace(centre, height)
        x0 = int(max(0, np.floor(trace.min() - reach)))
        x1 = int(min(width, np.ceil(trace.max() + reach) + 1))
        if x1 > x0:
            dx = np.arange(x0, x1)[None, :] - trace[:, None]
            image[:, x0:x1] += profile(dx) * amplitude[:, None]


def _add_arc_lines(image: np.ndarray, rng: np.random.Generator) -> None:
    height, width = image.shape
    across = _gauss(ARC_SIGMA_X)
    for centre in order_centres(width):
        trace = _trace(centre, height)
        rows = rng.uniform(10, height - 10, ARC_LINES_PER_ORDER)
        peaks = rng.lognormal(np.log(5000.0), 1.0, ARC_LINES_PER_ORDER)
        for row, peak in zip(rows, peaks, strict=True):
            y0 = int(max(0, row - 6 * ARC_SIGMA_Y))
            y1 = int(min(height, row + 6 * ARC_SIGMA_Y + 1))
            local = trace[y0:y1]
            x0 = int(max(0, np.floor(local.min() - 6 * ARC_SIGMA_X)))
            x1 = int(min(width, np.ceil(local.max() + 6 * ARC_SIGMA_X) + 1))
            if x1 > x0 and y1 > y0:
                dx = np.arange(x0, x1)[None, :] - local[:, None]
                along = np.exp(-0.5 * ((np.arange(y0, y1) - row) / ARC_SIGMA_Y) ** 2)
                image[y0:y1, x0:x1] += peak * across(dx) * along[:, None]


def expected_electrons(signal: Signal, chip: Chip, exptime: float, rng: np.random.Generator) -> np.ndarray:
    """Expected electrons per illuminated pixel, shape (ny, nx)."""
    image = np.zeros((chip.ny, chip.nx))
    blaze = _blaze(chip.ny)
    if signal is Signal.DARK:
        image += chip.dark_e_per_s * exptime
    elif signal is Signal.ORDERDEF:
        _add_orders(image, _gauss(ORDERDEF_SIGMA), 6 * ORDERDEF_SIGMA, LAMP_E * blaze)
    elif signal is Signal.FLAT:
        _add_orders(image, _box(FLAT_HALF_WIDTH, FLAT_EDGE), FLAT_HALF_WIDTH + 6 * FLAT_EDGE, LAMP_E * blaze)
    elif signal is Signal.ARC:
        _add_arc_lines(image, rng)
    elif signal is Signal.SCIENCE:
        image += SKY_E
        _add_orders(image, _gauss(SCI_SIGMA), 6 * SCI_SIGMA, OBJECT_E * blaze)
    return image


def chip_pixels(signal: Signal, chip: Chip, exptime: float, rng: np.random.Generator) -> np.ndarray:
    """The raw chip in ADU (float), shape (naxis2, naxis1)."""
    adu = chip.bias_adu + rng.standard_normal((chip.naxis2, chip.naxis1)) * (chip.ron_e * chip.gain)
    if signal is not Signal.BIAS:
        electrons = rng.poisson(expected_electrons(signal, chip, exptime, rng)).astype(np.float64)
        if signal is Signal.SCIENCE:
            hits = int(COSMICS_PER_MPIX * chip.nx * chip.ny / 1e6) + 1
            electrons[rng.integers(0, chip.ny, hits), rng.integers(0, chip.nx, hits)] += 5000.0
        adu[:, chip.prscx : chip.prscx + chip.nx] += electrons * chip.gain
    return np.asarray(adu)


def _int16_hdu(adu: np.ndarray, header: fits.Header, primary: bool) -> fits.PrimaryHDU | fits.ImageHDU:
    stored = (np.clip(np.rint(adu), 0, 65535) - 32768).astype(np.int16)
    cls = fits.PrimaryHDU if primary else fits.ImageHDU
    hdu = cls(data=stored, header=header, do_not_scale_image_data=True)
    anchor = "NAXIS2"
    if primary and "EXTEND" in hdu.header:
        anchor = "EXTEND"
    elif not primary:
        anchor = "GCOUNT"
    hdu.header.insert(anchor, ("BSCALE", 1.0, "pixel = FITS * BSCALE + BZERO"), after=True)
    hdu.header.insert("BSCALE", ("BZERO", 32768.0, "unsigned 16-bit data"), after=True)
    return hdu


#: Card comments as ESO raw headers carry them (readers of .hdr files see them).
COMMENTS = {
    "ORIGIN": "European Southern Observatory",
    "DATE": "Date the file was written",
    "TELESCOP": "ESO Telescope Name",
    "INSTRUME": "Instrument used",
    "OBJECT": "Original target",
    "EXPTIME": "Total integration time [s]",
    "MJD-OBS": "Obs start (MJD)",
    "DATE-OBS": "Date of observation",
    "UTC": "UT at start [s]",
    "ARCFILE": "Archive File Name",
    "ORIGFILE": "Original File Name",
    "OBS.NAME": "OB name",
    "OBS.ID": "OB ID",
    "OBS.PROG.ID": "ESO program identification",
    "OBS.START": "OB start time",
    "TPL.ID": "Template signature ID",
    "TPL.NAME": "Template name",
    "TPL.START": "TPL start time",
    "TPL.EXPNO": "Exposure number within template",
    "TPL.NEXP": "Number of exposures within template",
    "DPR.CATG": "Observation category",
    "DPR.TYPE": "Observation type",
    "DPR.TECH": "Observation technique",
    "DET.CHIPS": "Number of chips in detector array",
    "DET.OUTPUTS": "Number of outputs",
    "DET.READ.SPEED": "Readout speed",
    "DET.READ.MODE": "Readout method",
    "DET.READ.CLOCK": "Readout clock pattern used",
    "DET.WIN1.BINX": "Binning factor along X",
    "DET.WIN1.BINY": "Binning factor along Y",
    "DET.WIN1.NX": "Number of illuminated columns",
    "DET.WIN1.NY": "Number of rows",
    "DET.CHIP1.ID": "Detector chip identification",
    "DET.OUT1.RON": "Readout noise per output [e-]",
    "DET.OUT1.GAIN": "Conversion from electrons to ADU",
    "DET.OUT1.CONAD": "Conversion from ADUs to electrons",
    "INS.MODE": "Instrument mode used",
    "INS.PATH": "Optical path used",
}


def _set(header: fits.Header, cards: Mapping[str, object]) -> None:
    for key, value in cards.items():
        keyword, comment = to_fits(key), COMMENTS.get(key)
        if comment and len(fits.Card(keyword, value).image.rstrip()) + 3 + len(comment) > 80:
            comment = None  # a comment that does not fit on the card is left out, never truncated
        header[keyword] = (value, comment) if comment else value


def _chip_cards(chip: Chip) -> dict[str, object]:
    return {
        "DET.CHIP1.ID": chip.chip_id,
        "DET.CHIP1.NAME": chip.chip_name,
        "DET.OUT1.PRSCX": chip.prscx,
        "DET.OUT1.PRSCY": 0,
        "DET.OUT1.OVSCX": chip.ovscx,
        "DET.OUT1.OVSCY": 0,
        "DET.OUT1.NX": chip.nx,
        "DET.OUT1.NY": chip.ny,
        "DET.OUT1.RON": chip.ron_e,
        "DET.OUT1.GAIN": round(chip.gain, 6),
        "DET.OUT1.CONAD": chip.conad,
    }


_WCS = {f"{k}{i}": ("PIXEL" if k == "CTYPE" else 1.0) for k in ("CTYPE", "CRVAL", "CRPIX", "CDELT") for i in (1, 2)}


def _iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def primary_cards(frame: FramePlan, instrument: str, telescope: str) -> dict[str, object]:
    t = frame.template
    stamp = _iso_ms(frame.moment)
    catg, kind, tech = t.dpr
    return {
        "ORIGIN": "ESO",
        "DATE": stamp[:19],
        "TELESCOP": telescope,
        "INSTRUME": instrument,
        "OBJECT": t.object or kind,
        "RA": 0.0,
        "DEC": 0.0,
        "EQUINOX": 2000.0,
        "RADECSYS": "FK5",
        "EXPTIME": float(t.exptime),
        "MJD-OBS": round(datetime_to_mjd(frame.moment), 8),
        "DATE-OBS": stamp,
        "UTC": round(frame.moment.hour * 3600 + frame.moment.minute * 60 + frame.moment.second
                     + frame.moment.microsecond / 1e6, 3),
        "ARCFILE": frame.name.render(),
        "ORIGFILE": f"{t.tpl_id}_{frame.moment:%Y-%m-%d}_{frame.expno:04d}.fits",
        "PI-COI": "UNKNOWN",
        "OBSERVER": "UNKNOWN",
        "OBS.NAME": t.obs_name,
        "OBS.ID": t.obs_id,
        "OBS.PROG.ID": t.prog_id,
        "OBS.START": t.start.strftime("%Y-%m-%dT%H:%M:%S"),
        "TPL.ID": t.tpl_id,
        "TPL.NAME": t.tpl_id.split("_", 1)[-1],
        "TPL.START": t.start.strftime("%Y-%m-%dT%H:%M:%S"),
        "TPL.EXPNO": frame.expno,
        "TPL.NEXP": t.n_frames,
        "DPR.CATG": catg,
        "DPR.TYPE": kind,
        "DPR.TECH": tech,
    }


def frame_seed(seed: int, frame: FramePlan) -> int:
    """A per-frame seed: the same (seed, frame) always gives the same pixels."""
    return (seed * 1_000_003 + int(datetime_to_mjd(frame.moment) * 86_400_000)) % (2**63)


def render_frame(frame: FramePlan, arm: Arm, instrument: str, telescope: str, seed: int) -> fits.HDUList:
    """The raw frame as an HDUList: one image, or an empty primary plus one extension per chip."""
    rng = np.random.default_rng(frame_seed(seed, frame))
    template = frame.template
    header = fits.Header()
    _set(header, primary_cards(frame, instrument, telescope))
    _set(header, arm.keywords)
    if len(arm.chips) == 1:
        chip = arm.chips[0]
        _set(header, _WCS)
        _set(header, _chip_cards(chip))
        return fits.HDUList([_int16_hdu(chip_pixels(template.signal, chip, template.exptime, rng), header, True)])
    for number, chip in enumerate(arm.chips, start=1):
        _set(header, {f"DET.CHIP{number}.ID": chip.chip_id, f"DET.CHIP{number}.NAME": chip.chip_name})
    hdus: list[fits.PrimaryHDU | fits.ImageHDU] = [fits.PrimaryHDU(header=header)]
    for chip in arm.chips:
        ext = fits.Header()
        ext["EXTNAME"] = chip.extname
        _set(ext, _chip_cards(chip))
        _set(ext, _WCS)
        for key in ("EXPTIME", "MJD-OBS", "DATE-OBS"):
            ext[key] = header[key]
        hdus.append(_int16_hdu(chip_pixels(template.signal, chip, template.exptime, rng), ext, False))
    return fits.HDUList(hdus)
