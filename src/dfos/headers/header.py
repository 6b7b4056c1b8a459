"""An immutable view of a primary header keyed by dotted keyword names."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from dfos.headers.keywords import to_dotted

__all__ = ["Header", "Value"]

#: A header value as FITS can hold it.
Value = str | int | float | bool


@dataclass(frozen=True)
class Header(Mapping[str, Value]):
    """Keywords of one frame: ``header["DPR.TYPE"]``, ``header["MJD-OBS"]``.

    Only the first occurrence of a keyword counts; COMMENT and HISTORY cards
    are dropped.
    """

    cards: Mapping[str, Value] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: Iterator[tuple[str, object]] | list[tuple[str, object]]) -> Header:
        """Build from ``(card keyword, value)`` pairs as a FITS reader yields them."""
        values: dict[str, Value] = {}
        for keyword, value in pairs:
            if keyword in ("", "COMMENT", "HISTORY", "END") or value is None:
                continue
            name = to_dotted(keyword)
            if name in values:
                continue
            if isinstance(value, (str, int, float, bool)):
                values[name] = value
            else:
                values[name] = str(value)
        return cls(values)

    def __getitem__(self, key: str) -> Value:
        return self.cards[to_dotted(key) if " " in key else key.upper()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.cards)

    def __len__(self) -> int:
        return len(self.cards)

    def text(self, key: str, default: str = "") -> str:
        """A value as text (``default`` when absent)."""
        value = self.get(key)
        return default if value is None else str(value)

    def number(self, key: str) -> float | None:
        """A numeric value, or None when absent or not a number."""
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value)
