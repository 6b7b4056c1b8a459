"""The retry policy of archive transfers (urllib3's Retry): which failures are tried again, how long dfos
waits, what the final error says; against a stand-in archive whose transfers fail as told."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dfos.archive.client import ArchiveClient, ArchiveEntry, MissingFile, TransferError, fetch_verified
from dfos.archive.retry import BACKOFF_MAX, TransferRetry


class Flaky(ArchiveClient):
    """Fails each transfer with the next of ``failures``, then delivers ``b"data"``."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def list_dates(self) -> list[date]:
        return []

    def list_files(self, night: date, checksums: bool = False) -> list[ArchiveEntry]:
        return []

    def fetch_header(self, name: str) -> bytes:
        return b""

    def fetch_into(self, name: str, target: Path) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        target.write_bytes(b"data")
        return ""


def _fetch(client: Flaky, tmp_path: Path, retries: int = 3) -> list[float]:
    waits: list[float] = []
    fetch_verified(client, "F.fits", tmp_path, retries=retries, backoff=0.5, sleep=waits.append)
    return waits


def busy(status: int = 503, retry_after: str | None = None) -> TransferError:
    return TransferError(f"http://archive/RETRIEVE?file_id=F.fits: HTTP {status} Busy", status, retry_after)


def test_backoff_doubles_from_the_first_retry(tmp_path: Path) -> None:
    client = Flaky(busy(), OSError("disk hiccup"), busy(500))
    assert _fetch(client, tmp_path) == [0.5, 1.0, 2.0] and client.calls == 4
    assert (tmp_path / "F.fits").read_bytes() == b"data"


def test_the_last_failure_is_reported_with_the_attempts(tmp_path: Path) -> None:
    client = Flaky(busy(), busy(), OSError("[Errno 28] No space left on device"))
    with pytest.raises(TransferError) as caught:
        _fetch(client, tmp_path, retries=2)
    assert caught.value.message == "F.fits: [Errno 28] No space left on device (after 3 attempts)"
    assert client.calls == 3 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("status", [400, 401, 403, 410])
def test_a_status_no_retry_cures_is_final_at_once(tmp_path: Path, status: int) -> None:
    client = Flaky(busy(status))
    with pytest.raises(TransferError, match=f"HTTP {status}") as caught:
        _fetch(client, tmp_path)
    assert client.calls == 1 and "attempts" not in caught.value.message and caught.value.status == status


def test_a_missing_file_is_final_at_once(tmp_path: Path) -> None:
    client = Flaky(MissingFile("http://archive/RETRIEVE?file_id=F.fits: HTTP 404 Not Found", 404))
    with pytest.raises(MissingFile):
        _fetch(client, tmp_path)
    assert client.calls == 1


@pytest.mark.parametrize(("retry_after", "wait"), [
    ("7", 7.0),  # seconds
    ("1000000", BACKOFF_MAX),  # capped
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),  # a date in the past: at once
    ("soon", 0.5),  # not a Retry-After: the backoff
])
def test_the_archive_s_retry_after_is_honoured(tmp_path: Path, retry_after: str, wait: float) -> None:
    assert _fetch(Flaky(busy(503, retry_after)), tmp_path) == [wait]


def test_retry_after_counts_only_with_a_busy_status(tmp_path: Path) -> None:
    assert _fetch(Flaky(busy(500, "30"), busy(429, "30")), tmp_path) == [0.5, 30.0]


def test_the_policy_is_urllib3_s() -> None:
    from urllib3.util.retry import Retry

    policy = TransferRetry.of(2, 0.25)
    assert isinstance(policy, Retry) and policy.total == 2 and policy.get_backoff_time() == 0.0
    policy = policy.after("F.fits", busy())
    assert policy.total == 1 and policy.get_backoff_time() == 0.25 and len(policy.history) == 1
