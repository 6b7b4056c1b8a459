"""Shared command-line options and parameter types (``-d DATE``, ``--instrument``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dfos.dates import parse_date
from dfos.errors import InvalidDate

if TYPE_CHECKING:
    from dfos.keys import ProcessingKey

__all__ = ["DFO_DATE", "PROCESSING_KEY", "DfoDateType", "ProcessingKeyType", "date_option", "key_option"]


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


class ProcessingKeyType(click.ParamType["date | ProcessingKey"]):
    """A DFO date ``YYYY-MM-DD`` (a date), or another processing key: a phoenix run ID (``090.C-0456(A)``,
    ``113.26XA.001``), an OPSHUB project."""

    name = "KEY"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date | ProcessingKey:
        from dfos.errors import DfosError
        from dfos.keys import ProcessingKey

        if isinstance(value, (date, ProcessingKey)):
            return value
        try:
            key = ProcessingKey.parse(str(value))
        except DfosError as exc:
            self.fail(exc.message, param, ctx)
        return key.day if key.day is not None else key


PROCESSING_KEY = ProcessingKeyType()


F = TypeVar("F", bound=Callable[..., Any])


def date_option(
    required: bool = True, help: str = "DFO date (YYYY-MM-DD): the night starting at 12:00 UT."
) -> Callable[[F], F]:
    """The DFOS ``-d DATE`` option."""
    return click.option("-d", "--date", "day", type=DFO_DATE, required=required, help=help)


def key_option(help: str = "DFO date (YYYY-MM-DD), or a phoenix run ID (090.C-0456(A)) in DEEP mode."
               ) -> Callable[[F], F]:
    """``-d KEY``: a DFO date or another processing key (the closing commands of a phoenix run)."""
    return click.option("-d", "--date", "day", type=PROCESSING_KEY, required=True, help=help)
