"""When a failed archive transfer is tried again, and how long dfos waits first: urllib3's ``Retry``.

:func:`dfos.archive.client.fetch_verified` keeps its own attempt loop, because it retries what no HTTP
library sees (a checksum that does not match after a complete transfer, a failure of the local
archive or of the disk); the decisions are urllib3's: it counts the attempts, tells an HTTP status
worth another try (:data:`RETRY_STATUSES`: the archive busy or failing for a while) from a final
one (a 400 or 403 is not tried again; a 404 never was), reads the archive's ``Retry-After`` (seconds
or an HTTP date) and caps every wait at :data:`BACKOFF_MAX`.

This module imports urllib3 (about 50 ms): :mod:`dfos.archive.client` imports it only when a file
has to be fetched.
"""

from __future__ import annotations

from typing import Self

from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

from dfos.archive.client import TransferError

__all__ = ["BACKOFF_MAX", "RETRY_STATUSES", "TransferRetry"]

#: HTTP statuses worth another try: a timeout, too many requests, the archive failing or busy.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: The longest wait between two attempts, in seconds (a longer ``Retry-After`` is cut to it).
BACKOFF_MAX = 120.0


class TransferRetry(Retry):
    """The retry state of one transfer: ``retries`` more attempts, waiting ``backoff`` x 2^n seconds.

    Unlike urllib3's own schedule (no wait before the first retry), the first retry waits ``backoff``
    too, as dfos always did: an archive that has just failed a transfer seldom serves the next one at
    once."""

    @classmethod
    def of(cls, retries: int, backoff: float) -> Self:
        return cls(total=retries, backoff_factor=backoff, backoff_max=BACKOFF_MAX, status_forcelist=RETRY_STATUSES,
                   allowed_methods=frozenset({"GET"}), respect_retry_after_header=True)

    def get_backoff_time(self) -> float:
        failures = len(self.history)
        return 0.0 if not failures else float(min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1)))

    def after(self, name: str, failure: TransferError) -> Self:
        """The state after ``failure`` of the transfer of ``name``; :class:`TransferError` when it is final
        (an HTTP status no retry cures, or no attempt left)."""
        if failure.status is not None and not self.is_retry("GET", failure.status, failure.retry_after is not None):
            raise TransferError(f"{name}: {failure.message}", failure.status)
        try:
            return self.increment("GET", name, error=failure)
        except MaxRetryError:
            attempts = len(self.history) + 1
            raise TransferError(f"{name}: {failure.message} (after {attempts} attempts)", failure.status) from None

    def wait(self, failure: TransferError) -> float:
        """Seconds to wait before the next attempt: the archive's ``Retry-After`` if it sent one with a
        busy status (413, 429, 503), else the backoff; never more than :data:`BACKOFF_MAX`."""
        if failure.retry_after and failure.status in self.RETRY_AFTER_STATUS_CODES:
            try:
                return min(self.backoff_max, self.parse_retry_after(failure.retry_after))
            except InvalidHeader:
                pass  # a Retry-After that is neither seconds nor a date: the backoff
        return self.get_backoff_time()
