"""Who may log in to the monitor, and how hard guessing is.

The login secret is the monitor's password (``MONITOR_PASSWORD_FILE``, ``DFOS_MONITOR_PASSWORD`` or
``MONITOR_PASSWORD``; see :mod:`dfos.config.secrets`), or, when none is configured, a random token
the server prints at start (its login URL).  Only a salted scrypt hash of it is kept
(:class:`PasswordHash`, made by :meth:`LoginSecret.of`), and the workspace the server keeps forgets
the clear text (:func:`without_password`); a given password is compared with
:func:`hmac.compare_digest`.

:class:`LoginLimiter`: per client address, after :attr:`~LoginLimiter.free` failed logins each
further try waits twice as long as the one before (1 s, 2 s, 4 s ... at most 15 min); all clients
together get at most :attr:`~LoginLimiter.per_minute` failures a minute.  A locked-out try is
answered 429 with ``Retry-After`` and its password is not even looked at.

After a login the browser goes back where it came from, but only to a path of this server
(:func:`safe_next`): never another host.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from dfos.config.secrets import monitor_password
from dfos.workspace import Workspace

__all__ = ["MAX_PASSWORD", "LoginLimiter", "LoginSecret", "PasswordHash", "safe_next", "without_password"]

#: Longer passwords are refused without hashing them (a hash of megabytes costs time).
MAX_PASSWORD = 1024
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
#: The longest ``next`` path a login returns to.
MAX_NEXT = 2000


@dataclass(frozen=True)
class PasswordHash:
    """A salted scrypt hash of the login password (or token); the clear text is not kept."""

    salt: bytes
    digest: bytes

    @classmethod
    def of(cls, password: str) -> PasswordHash:
        salt = secrets.token_bytes(16)
        return cls(salt, hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT))

    def matches(self, given: str) -> bool:
        """Whether ``given`` is the password (constant-time comparison of the hashes)."""
        if not given or len(given) > MAX_PASSWORD:
            return False
        digest = hashlib.scrypt(given.encode("utf-8", "surrogatepass"), salt=self.salt, **_SCRYPT)
        return hmac.compare_digest(digest, self.digest)


@dataclass(frozen=True)
class LoginSecret:
    """How a monitor server's users log in."""

    hash: PasswordHash
    """The hash of the password, or of the token when no password is configured."""
    printed: str
    """The token to print at start ('' when a password is configured)."""
    by_token: bool
    """Whether the secret is the printed token: ``/login?token=`` logs in."""

    @classmethod
    def of(cls, workspace: Workspace, token: str | None = None) -> LoginSecret:
        """The workspace's password, else ``token``, else a new random token; only its hash is kept."""
        password = monitor_password(workspace.settings, workspace.root)
        secret = password or token or secrets.token_urlsafe(24)
        return cls(PasswordHash.of(secret), "" if password else secret, not password)


def without_password(workspace: Workspace) -> Workspace:
    """The workspace with the clear-text ``MONITOR_PASSWORD`` forgotten (what a server keeps)."""
    settings = dataclasses.replace(workspace.settings, MONITOR_PASSWORD="")
    return dataclasses.replace(workspace, config=dataclasses.replace(workspace.config, settings=settings))


def safe_next(target: str | None) -> str:
    """Where to go after a login: ``target`` when it is a path of this server, ``/`` otherwise."""
    target = "/" if target is None else target
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target and len(target) <= MAX_NEXT
    return target if ok else "/"


@dataclass
class _Client:
    failures: int = 0
    last: float = 0.0
    until: float = 0.0


class LoginLimiter:
    """Failed-login accounting with an injectable monotonic clock (see the module)."""

    def __init__(self, now: Callable[[], float] = time.monotonic, free: int = 5, per_minute: int = 30,
                 longest: float = 900.0, max_clients: int = 10_000) -> None:
        self.now = now
        self.free = free
        self.per_minute = per_minute
        self.longest = longest
        self.max_clients = max_clients
        self.clients: dict[str, _Client] = {}
        self.recent: deque[float] = deque()
        self.lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds ``client`` must wait before its next try (0: it may try now)."""
        now = self.now()
        with self.lock:
            while self.recent and now - self.recent[0] >= 60.0:
                self.recent.popleft()
            waits = [0.0]
            if len(self.recent) >= self.per_minute:
                waits.append(self.recent[0] + 60.0 - now)
            entry = self.clients.get(client)
            if entry is not None:
                waits.append(entry.until - now)
            return max(waits)

    def failed(self, client: str) -> None:
        now = self.now()
        with self.lock:
            self.recent.append(now)
            entry = self.clients.get(client)
            if entry is None or now - entry.last > self.longest:
                entry = _Client()
            entry.failures += 1
            entry.last = now
            if entry.failures >= self.free:
                entry.until = now + min(2.0 ** (entry.failures - self.free), self.longest)
            self.clients[client] = entry
            if len(self.clients) > self.max_clients:
                for name in sorted(self.clients, key=lambda n: self.clients[n].last)[: len(self.clients) // 2]:
                    del self.clients[name]

    def succeeded(self, client: str) -> None:
        with self.lock:
            self.clients.pop(client, None)

    @staticmethod
    def retry_after(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))
