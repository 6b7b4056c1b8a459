"""Shared command-line options and parameter types (``-d DATE``, ``--instrument``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import click

from dfos.dates import parse_date
from dfos.errors import InvalidDate

__all__ = ["DFO_DATE", "DfoDateType", "date_option"]


class DfoDateType(click.ParamType[date]):
    """A DFO date ``YYYY-MM-DD``."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_date(str(value))
        except InvalidDate as exc:
            self.fail(str(exc), param, ctx)


DFO_DATE = DfoDateType()


F = TypeVar("F", bound=Callable[..., Any])


def date_option(
    required: bool = True, help: str = "DFO date (YYYY-MM-DD): the night starting at 12:00 UT."
) -> Callable[[F], F]:
    """The DFOS ``-d DATE`` option."""
    return click.option("-d", "--date", "day", type=DFO_DATE, required=required, help=help)
