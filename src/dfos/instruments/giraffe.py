"""GIRAFFE, the FLAMES fibre spectrograph: one EEV 2k x 4k chip."""

from __future__ import annotations

from datetime import date, datetime, time

from dfos.instruments.base import Instrument
from dfos.synth.plan import Arm, Chip, Signal, Template

__all__ = ["Giraffe"]

#: gimasterbias cuts a fixed QC window up to x=1124, y=2098 and crashes on smaller raw frames.
#: At the small size gimasterdark writes QC DARK CURRENT = 0 (it needs >= 2038 x 3000
#: illuminated pixels); its PRO DARK VALUE [ADU/s] is right at every size.
FULL = (2048, 4096)
SMALL = (1024, 2098)


class Giraffe(Instrument):
    """GIRAFFE plugin."""

    name = "GIRAFFE"
    file_prefix = "GIRAF"
    rules_name = "giraffe.oca"
    pipeline = "giraf"
    mcal_code = "GI"

    def arms(self, small: bool) -> dict[str, Arm]:
        nx, ny = SMALL if small else FULL
        chip = Chip("CCD-60", "EEV 44-82", nx, ny, bias_adu=250.0, ron_e=4.5, conad=1.82)
        keywords: dict[str, str | int | float | bool] = {
            "DET.CHIPS": 1,
            "DET.OUTPUTS": 1,
            "DET.READ.SPEED": "normal",
            "DET.READ.MODE": "normal",
            "DET.READ.CLOCK": "225kHz,1port,normal",
            "DET.WIN1.BINX": 1,
            "DET.WIN1.BINY": 1,
            "DET.WIN1.NX": nx,
            "DET.WIN1.NY": ny,
            "DET.WIN1.STRX": 1,
            "DET.WIN1.STRY": 1,
            "INS.MODE": "MEDUSA1",
            "INS.EXP.MODE": "H525.8",
            "INS.SLIT.NAME": "Medusa1",
            "INS.FILT.NAME": "HR09B",
            "INS.GRAT.ID": "HR",
            "INS.GRAT.WLEN": 525.8,
        }
        return {"CCD": Arm("CCD", (chip,), keywords)}

    def night(self, day: date) -> list[Template]:
        """A bias template and a dark template."""
        return [
            Template("BIAS", "CCD", ("CALIB", "BIAS", "IMAGE"), Signal.BIAS,
                     datetime.combine(day, time(18, 10, 0, 500000)), 5, 0.0, "GIRAF_gen_cal_bias", 200160001),
            Template("DARK", "CCD", ("CALIB", "DARK", "IMAGE"), Signal.DARK,
                     datetime.combine(day, time(19, 0, 0, 500000)), 3, 3600.0, "GIRAF_gen_cal_dark", 200160002),
        ]
