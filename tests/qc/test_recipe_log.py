"""The source count naco_img_jitter writes only in its log (dfos.qc.recipe_log)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dfos.qc.recipe_log import ApertureDetection, parse_apertures

# as cpl-plugin-naco 4.4.11 writes them (one line each, esorex's time and level prefix)
_AT = "02:32:40 [ INFO  ] naco_img_jitter_qc_apertures: [tid=000]"
LOG = "\n".join([
    "02:32:40 [ INFO  ] naco_img_jitter: [tid=000] Compute QC parameters from the combined image",
    f"{_AT} Detecting apertures using 4 sigma-levels ranging from 5 down to 0.5",
    f"{_AT} Detected 8 (8) apertures at sigma=5",
    f"{_AT} 8 of the apertures have FWHMs within the range 3.67782 to 183.891 and eccentricity within 0.2",
    "02:32:40 [ INFO  ] naco_img_jitter: [tid=000] Save the products",
]) + "\n"


def test_the_detection_line_and_the_fwhm_count_are_read() -> None:
    assert parse_apertures(LOG) == ApertureDetection(detected=8, detected_alt=8, sigma=5.0, with_fwhm=8)


def test_the_last_sigma_level_tried_counts() -> None:
    # the recipe goes down the sigma levels until it finds apertures
    log = LOG.replace("Detected 8 (8) apertures at sigma=5",
                      "Detected 0 (0) apertures at sigma=5\n... Detected 3 (4) apertures at sigma=2.5") \
             .replace("8 of the apertures", "2 of the apertures")
    assert parse_apertures(log) == ApertureDetection(3, 4, 2.5, 2)


def test_a_detection_without_the_fwhm_line_has_no_fwhm_count() -> None:
    assert parse_apertures(LOG.splitlines()[2]) == ApertureDetection(8, 8, 5.0, None)


def test_a_log_without_a_detection_gives_none() -> None:
    assert parse_apertures("") is None
    assert parse_apertures("8 of the apertures have FWHMs within the range 1 to 2\n") is None  # no Detected line
    assert parse_apertures(LOG.replace("Detected", "Found")) is None


@given(st.text(max_size=400))
@settings(max_examples=200)
def test_any_text_parses_or_gives_none(text: str) -> None:
    found = parse_apertures(text)
    assert found is None or found.detected >= 0


def test_a_huge_line_does_not_hang() -> None:
    import signal

    def hung(*_: object) -> None:
        raise TimeoutError("parse_apertures hung on a long line")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)  # a hang guard only: the search takes well under a second
    try:
        assert parse_apertures("Detected " + "9" * 2_000_000 + " apertures at sigma=" + "1" * 2_000_000) is None
        assert parse_apertures("x" * 1_000_000 + "Detected 7 (7) apertures at sigma=3 " * 100_000) \
            == ApertureDetection(7, 7, 3.0, None)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
