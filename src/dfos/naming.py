"""Archive file names: ``<PREFIX>.<YYYY-MM-DDThh:mm:ss.sss>.fits`` (the ARCFILE form).

The codec refuses any name it cannot parse back: ``RawName.parse(n.render()) == n``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from dfos.errors import FormatError

__all__ = ["RawName"]

_RAW_RE = re.compile(
    r"^(?P<prefix>[A-Za-z][A-Za-z0-9_]*)\."
    r"(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})\.fits$"
)


@dataclass(frozen=True, slots=True)
class RawName:
    """A raw frame's archive name."""

    prefix: str
    """Instrument file prefix (``DFO_FILE_NAME``): UVES, GIRAF, ..."""
    moment: datetime
    """Exposure start (DATE-OBS), millisecond precision."""

    def render(self) -> str:
        """The file name, e.g. ``UVES.2013-02-12T18:05:00.500.fits``."""
        stamp = self.moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.moment.microsecond // 1000:03d}"
        name = f"{self.prefix}.{stamp}.fits"
        if RawName.parse(name) != self:
            raise ValueError(f"{self!r} cannot be named losslessly (sub-millisecond time?)")
        return name

    @property
    def stem(self) -> str:
        """The name without ``.fits``."""
        return self.render()[: -len(".fits")]

    @classmethod
    def parse(cls, name: str) -> RawName:
        """Parse an archive file name; raise :class:`FormatError` for anything else."""
        match = _RAW_RE.match(name)
        if not match:
            raise FormatError(f"{name!r} is not an archive file name like UVES.2013-02-12T18:05:00.500.fits")
        try:
            moment = datetime.fromisoformat(match["stamp"])
        except ValueError:
            raise FormatError(f"{name!r}: invalid time stamp") from None
        return cls(prefix=match["prefix"], moment=moment)
