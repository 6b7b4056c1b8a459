"""DFO_STATUS: flags and lines (:mod:`.flags`), the file (:mod:`.log`), the decision table (:mod:`.machine`)."""

from dfos.status.flags import Malformed, StatusFlag, StatusLine, parse_line, parse_text, render_line
from dfos.status.log import StatusLog
from dfos.status.machine import (
    Completeness,
    DateFacts,
    DateView,
    StepState,
    evaluate_date,
    flags_by_key,
    listed_dates,
)

__all__ = [
    "Completeness",
    "DateFacts",
    "DateView",
    "Malformed",
    "StatusFlag",
    "StatusLine",
    "StatusLog",
    "StepState",
    "evaluate_date",
    "flags_by_key",
    "listed_dates",
    "parse_line",
    "parse_text",
    "render_line",
]
