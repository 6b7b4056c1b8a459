"""The monitor's sessions: the signed cookie, the server-side table that makes a login revocable, and
the session's CSRF token.

The session cookie (``HttpOnly``, ``SameSite=Strict``) is signed with the workspace's key
``.monitor_secret`` (mode 600, :func:`load_secret`); ``dfos monitor rotate-secret`` replaces it
(:func:`rotate_secret`).

A login opens a session: a random id (32 bytes) carried in the signed cookie; the workspace's table
``.monitor_sessions`` (JSON, mode 600, shared by every server of the workspace) lists the SHA-256 of
every live id with its user and start time.  A request is logged in only when its cookie's id is in
the table: logout deletes the entry, ``dfos monitor rotate-secret`` empties the table and replaces
the signing key.  A cookie forged with a leaked or guessed key carries no live id and is refused.

The cookie signer re-reads ``.monitor_secret`` when the file changes, so a rotation takes effect on
running servers too (it looks in a worker thread: no request waits for the file system on the event
loop).

Every state-changing request carries the session's CSRF token (:func:`csrf_token`) in a form field or
the ``X-CSRF-Token`` header, compared in constant time (:func:`valid_csrf`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import itsdangerous
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from dfos import clock
from dfos.fsutil import exclusive_lock, write_text_atomic

__all__ = ["LIFETIME", "SECRET_FILE", "SESSIONS_FILE", "RotatingSessionMiddleware", "SessionTable", "csrf_token",
           "load_secret", "rotate_secret", "valid_csrf"]

#: The session-signing key, in the workspace root.
SECRET_FILE = ".monitor_secret"
SESSIONS_FILE = ".monitor_sessions"
#: Seconds a login lasts (the cookie's Max-Age too).
LIFETIME = 12 * 3600
#: Live sessions kept at most (the oldest are dropped first).
MAX_SESSIONS = 1000


def load_secret(root: Path) -> str:
    """The workspace's session-signing key, made on first use (only the owner can read it)."""
    path = root / SECRET_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another server made it meanwhile
        return path.read_text(encoding="ascii").strip()
    try:
        os.write(fd, secret.encode("ascii"))
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return secret


def rotate_secret(root: Path) -> None:
    """Replace the signing key (atomically, mode 600): cookies signed with the old key stop working."""
    write_text_atomic(root / SECRET_FILE, secrets.token_hex(32), mode=0o600)


def csrf_token(session: dict[str, object]) -> str:
    """The session's CSRF token, made at its first page (forms carry it back)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def valid_csrf(session: dict[str, object], given: str | None) -> bool:
    """Whether ``given`` is the session's CSRF token (constant-time comparison)."""
    expected = session.get("csrf")
    return isinstance(expected, str) and isinstance(given, str) and hmac.compare_digest(given, expected)


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

    def end_user(self, user: str) -> int:
        """End every session of ``user`` (an account removed or given a new password); returns how many."""
        with self._changing() as table:
            ended = [k for k, v in table.items() if isinstance(v, dict) and v.get("user") == user]
            for key in ended:
                del table[key]
        return len(ended)

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
        if scope["type"] in ("http", "websocket"):
            await run_in_threadpool(self._follow_key)
        await super().__call__(scope, receive, send)

    def _follow_key(self) -> None:
        """Sign with the key in ``.monitor_secret`` now (a file system call: run in a worker thread)."""
        stamp = _stamp(self.key_path)
        if stamp != self.key_stamp:
            self.signer = itsdangerous.TimestampSigner(load_secret(self.root))
            self.key_stamp = _stamp(self.key_path)
