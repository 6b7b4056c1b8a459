"""Server-side sessions of the monitor, so that a login can be revoked.

A login opens a session: a random id (32 bytes) carried in the signed cookie; the workspace's table
``.monitor_sessions`` (JSON, mode 600, shared by every server of the workspace) lists the SHA-256 of
every live id with its user and start time.  A request is logged in only when its cookie's id is in
the table: logout deletes the entry, ``dfos monitor rotate-secret`` empties the table and replaces
the signing key.  A cookie forged with a leaked or guessed key carries no live id and is refused.

The cookie signer re-reads ``.monitor_secret`` when the file changes, so a rotation takes effect on
running servers too.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import itsdangerous
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from dfos import clock
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.monitor.auth import SECRET_FILE, load_secret

__all__ = ["LIFETIME", "SESSIONS_FILE", "RotatingSessionMiddleware", "SessionTable"]

SESSIONS_FILE = ".monitor_sessions"
#: Seconds a login lasts (the cookie's Max-Age too).
LIFETIME = 12 * 3600
#: Live sessions kept at most (the oldest are dropped first).
MAX_SESSIONS = 1000


def _wall() -> float:
    return clock.system_now().timestamp()


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


class SessionTable:
    """The live sessions of a workspace (see the module)."""

    def __init__(self, root: Path, lifetime: float = LIFETIME, now: Callable[[], float] = _wall) -> None:
        self.path = root / SESSIONS_FILE
        self.lock_path = root / f"{SESSIONS_FILE}.lock"
        self.lifetime = lifetime
        self.now = now
        self._cache: tuple[tuple[int, int, int] | None, dict[str, Any]] = (None, {})
        self._guard = threading.Lock()

    def _read(self) -> dict[str, Any]:
        stamp = _stamp(self.path)
        with self._guard:
            if stamp is not None and stamp == self._cache[0]:
                return self._cache[1]
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        table = data if isinstance(data, dict) else {}
        with self._guard:
            self._cache = (stamp, table)
        return table

    @contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        with exclusive_lock(self.lock_path):
            table = dict(self._read())
            yield table
            write_text_atomic(self.path, json.dumps(table, sort_keys=True), mode=0o600, durable=False)

    def open(self, user: str, address: str) -> str:
        """Start a session of ``user``; returns its id (for the cookie only: the table keeps a hash)."""
        sid = secrets.token_urlsafe(32)
        now = self.now()
        with self._changing() as table:
            for key in [k for k, v in table.items() if not self._alive(v, now)]:
                del table[key]
            while len(table) >= MAX_SESSIONS:
                del table[min(table, key=lambda k: table[k].get("since", 0))]
            table[_digest(sid)] = {"user": user, "since": now, "address": address}
        return sid

    def _alive(self, entry: Any, now: float) -> bool:
        return isinstance(entry, dict) and isinstance(entry.get("since"), (int, float)) \
            and 0 <= now - entry["since"] < self.lifetime

    def user(self, sid: object) -> str | None:
        """The user of a live session id, or None."""
        if not isinstance(sid, str) or not sid:
            return None
        entry = self._read().get(_digest(sid))
        if not self._alive(entry, self.now()):
            return None
        user = entry.get("user")  # type: ignore[union-attr]
        return user if isinstance(user, str) else None

    def close(self, sid: object) -> None:
        """End one session (logout)."""
        if isinstance(sid, str) and sid:
            with self._changing() as table:
                table.pop(_digest(sid), None)

    def clear(self) -> int:
        """End every session (key rotation); returns how many there were."""
        with self._changing() as table:
            count = len(table)
            table.clear()
        return count


class RotatingSessionMiddleware(SessionMiddleware):
    """Starlette's signed-cookie sessions whose key is the workspace's ``.monitor_secret``, re-read
    when the file changes (after ``dfos monitor rotate-secret``)."""

    def __init__(self, app: ASGIApp, /, root: Path, **options: Any) -> None:
        self.key_path = root / SECRET_FILE
        self.root = root
        super().__init__(app, secret_key=load_secret(root), **options)
        self.key_stamp = _stamp(self.key_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stamp = _stamp(self.key_path)
        if stamp != self.key_stamp:
            self.signer = itsdangerous.TimestampSigner(load_secret(self.root))
            self.key_stamp = _stamp(self.key_path)
        await super().__call__(scope, receive, send)
