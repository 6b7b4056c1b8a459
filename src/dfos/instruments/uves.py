"""UVES, the VLT's echelle spectrograph: blue arm (one EEV chip) and red arm (two chips)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

from dfos.instruments.base import Instrument
from dfos.synth.plan import Arm, Chip, Signal, Template

__all__ = ["Uves"]

#: Illuminated size (nx, ny) per arm.  The small sizes are the smallest the recipes accept
#: reliably (measured): uves_cal_mbias needs >= 102 px per axis, uves_cal_orderpos >= 3 orders
#: (nx >= ~155 at 48 px order spacing), uves_cal_mflat ny >= 164.  Below 600 px uves_cal_mdark
#: writes QC REG values only when given a smaller QC grid (--qc_dark.reg.*).
FULL = {"BLUE": (2048, 3000), "RED": (2048, 4096)}
SMALL = {"BLUE": (200, 200), "RED": (128, 128)}


def _at(day: date, hhmmss: str, next_day: bool = False) -> datetime:
    base = day + timedelta(days=1) if next_day else day
    return datetime.combine(base, time.fromisoformat(hhmmss))


class Uves(Instrument):
    """UVES plugin."""

    name = "UVES"
    file_prefix = "UVES"
    rules_name = "uves.oca"
    pipeline = "uves"
    setup_keys = ("INS.PATH", "DET.WIN1.BINX", "DET.WIN1.BINY", "DET.READ.SPEED")
    mcal_code = "UV"

    def calib_setup(self, pro_catg: str, header: Mapping[str, object]) -> str:
        """The arm or chip the product belongs to (BLUE, REDL, REDU), as in UV_MBIA_130210A_BLUE."""
        last = pro_catg.rsplit("_", 1)[-1]
        return last if last in ("BLUE", "RED", "REDL", "REDU") else super().calib_setup(pro_catg, header)

    def arms(self, small: bool) -> dict[str, Arm]:
        size = SMALL if small else FULL
        bx, by = size["BLUE"]
        rx, ry = size["RED"]
        detector: dict[str, str | int | float | bool] = {
            "DET.WIN1.BINX": 1,
            "DET.WIN1.BINY": 1,
            "DET.WIN1.STRX": 1,
            "DET.WIN1.STRY": 1,
            "DET.READ.MODE": "normal",
        }
        blue = Arm(
            "BLUE",
            (Chip("CCD-44b", "EEV", bx, by, bias_adu=180.0, ron_e=3.9, conad=1.85),),
            {
                **detector,
                "DET.CHIPS": 1,
                "DET.OUTPUTS": 1,
                "DET.READ.SPEED": "1pt/225kHz/lg",
                "DET.READ.CLOCK": "225kHz,1port,low gain",
                "DET.WIN1.NX": bx,
                "DET.WIN1.NY": by,
                "INS.MODE": "DICHR#1",
                "INS.PATH": "BLUE",
                "INS.PIXSCALE": 0.246,
                "INS.GRAT1.NAME": "CD#2",
                "INS.GRAT1.ID": "CD2",
                "INS.GRAT1.WLEN": 390.0,
                "INS.SLIT1.NAME": "FREE",
                "INS.SLIT2.WID": 1.0,
            },
        )
        red = Arm(
            "RED",
            (
                Chip("CCD-20", "MIT", rx, ry, bias_adu=190.0, ron_e=3.5, conad=1.45, extname="REDU"),
                Chip("CCD-44", "EEV", rx, ry, bias_adu=160.0, ron_e=4.2, conad=1.70, extname="REDL"),
            ),
            {
                **detector,
                "DET.CHIPS": 2,
                "DET.OUTPUTS": 2,
                "DET.READ.SPEED": "2pts/225kHz/lg",
                "DET.READ.CLOCK": "225kHz,2ports,low gain",
                "DET.WIN1.NX": rx,
                "DET.WIN1.NY": ry,
                "INS.MODE": "DICHR#1",
                "INS.PATH": "RED",
                "INS.PIXSCALE": 0.182,
                "INS.GRAT2.NAME": "CD#3",
                "INS.GRAT2.ID": "CD3",
                "INS.GRAT2.WLEN": 564.0,
                "INS.SLIT1.NAME": "FREE",
                "INS.SLIT3.NAME": "FREE",
                "INS.SLIT3.WID": 1.0,
            },
        )
        return {"BLUE": blue, "RED": red}

    def night(self, day: date) -> list[Template]:
        """Afternoon calibrations, evening lamps, two science frames (which lack static calibrations)."""
        calib = ("CALIB",)
        return [
            Template("BIAS_BLUE", "BLUE", (*calib, "BIAS", "IMAGE"), Signal.BIAS,
                     _at(day, "18:05:00.500"), 5, 0.0, "UVES_blue_cal_bias", 200150001),
            Template("BIAS_RED", "RED", (*calib, "BIAS", "IMAGE"), Signal.BIAS,
                     _at(day, "18:20:00.500"), 5, 0.0, "UVES_red_cal_bias", 200150002),
            Template("DARK_BLUE", "BLUE", (*calib, "DARK", "IMAGE"), Signal.DARK,
                     _at(day, "18:40:00.500"), 3, 3600.0, "UVES_blue_cal_dark", 200150003),
            Template("ORDER_FLAT_BLUE", "BLUE", (*calib, "LAMP,ORDERDEF", "ECHELLE"), Signal.ORDERDEF,
                     _at(day, "21:50:00.500"), 1, 5.0, "UVES_blue_cal_orderdef", 200150004),
            Template("FLAT_BLUE", "BLUE", (*calib, "LAMP,FLAT", "ECHELLE"), Signal.FLAT,
                     _at(day, "21:52:00.500"), 5, 10.0, "UVES_blue_cal_flatfree", 200150005),
            Template("ARC_LAMP_BLUE", "BLUE", (*calib, "LAMP,WAVE", "ECHELLE"), Signal.ARC,
                     _at(day, "22:02:00.500"), 2, 15.0, "UVES_blue_cal_wave", 200150006),
            Template("SCIENCE_BLUE", "BLUE", ("SCIENCE", "OBJECT", "ECHELLE"), Signal.SCIENCE,
                     _at(day, "01:30:00.500", next_day=True), 2, 1800.0, "UVES_blue_obs_exp", 200170001,
                     obs_name="HD_12345_blue", prog_id="090.D-0123(A)", object="HD 12345"),
        ]
