"""Slow facts (disk scans, the archive probe, crontab, the system sampler) gathered in background
threads and cached, so that no page ever waits for them: a page shows the last value and its age."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

__all__ = ["Cached", "SystemSampler"]


@dataclass
class _Value:
    value: Any = None
    when: float = 0.0
    running: bool = False


class Cached:
    """A value computed in a background thread at most every ``ttl`` seconds; :meth:`get` never blocks."""

    def __init__(self, compute: Callable[[], Any], ttl: float, timeout: float = 60.0) -> None:
        self.compute = compute
        self.ttl = ttl
        self.timeout = timeout
        self.state = _Value()
        self.lock = threading.Lock()

    def get(self) -> tuple[Any, float | None]:
        """(the last value or None, its age in seconds or None); starts a refresh when stale."""
        with self.lock:
            stale = time.monotonic() - self.state.when > self.ttl or self.state.when == 0.0
            if stale and not self.state.running:
                self.state.running = True
                threading.Thread(target=self._refresh, daemon=True, name="monitor-cache").start()
            value, when = self.state.value, self.state.when
        return value, (time.monotonic() - when if when else None)

    def wait(self, seconds: float) -> Any:
        """The value, waiting up to ``seconds`` for a first one (for exports and tests)."""
        deadline = time.monotonic() + seconds
        value, age = self.get()
        while age is None and time.monotonic() < deadline:
            time.sleep(0.02)
            value, age = self.get()
        return value

    def refresh(self, seconds: float) -> Any:
        """Compute again now, whatever the age (a refresh button); wait up to ``seconds`` for the new value
        (None if it is not there by then: it arrives in the background)."""
        with self.lock:
            before = self.state.when
            if not self.state.running:
                self.state.running = True
                threading.Thread(target=self._refresh, daemon=True, name="monitor-cache").start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if self.state.when != before and not self.state.running:
                    return self.state.value
            time.sleep(0.02)
        return None

    def _refresh(self) -> None:
        result: list[Any] = []
        worker = threading.Thread(target=lambda: result.append(self._safe()), daemon=True)
        worker.start()
        worker.join(self.timeout)
        value = result[0] if result else {"error": f"no answer within {self.timeout:g} s"}
        with self.lock:
            self.state = _Value(value, time.monotonic(), False)

    def _safe(self) -> Any:
        try:
            return self.compute()
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}


@dataclass(frozen=True)
class Sample:
    at: float
    load: float
    cpu: float
    memory: float
    disk: float


class SystemSampler:
    """Load, CPU, memory and disk use every ``every`` seconds, the last hour kept (psutil)."""

    def __init__(self, disk_path: str, every: float = 10.0) -> None:
        self.disk_path = disk_path
        self.every = every
        self.samples: deque[Sample] = deque(maxlen=int(3600 / every))
        self.lock = threading.Lock()
        self.started = False

    def start(self) -> None:
        with self.lock:
            if self.started:
                return
            self.started = True
        psutil.cpu_percent(None)  # the first call only sets the reference
        threading.Thread(target=self._run, daemon=True, name="monitor-system").start()

    def sample(self) -> Sample:
        return Sample(time.monotonic(), psutil.getloadavg()[0], psutil.cpu_percent(None),
                      psutil.virtual_memory().percent, psutil.disk_usage(self.disk_path).percent)

    def _run(self) -> None:
        while True:
            try:
                taken = self.sample()
            except OSError:
                taken = None
            if taken is not None:
                with self.lock:
                    self.samples.append(taken)
            time.sleep(self.every)

    def history(self) -> list[Sample]:
        with self.lock:
            return list(self.samples)
