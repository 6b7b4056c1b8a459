"""Login, sessions and CSRF protection of the monitor.

Actions need a login: the workspace's ``MONITOR_PASSWORD``, or, when none is configured, a random
token the server prints at start (its login URL).  The session is a signed cookie (``HttpOnly``,
``SameSite=Strict``) whose key is kept in the workspace (``.monitor_secret``, mode 600).  Every
state-changing request carries the session's CSRF token in a form field or the ``X-CSRF-Token``
header, compared in constant time.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

__all__ = ["csrf_token", "load_secret", "password_ok", "valid_csrf"]


def load_secret(root: Path) -> str:
    """The workspace's session-signing key, made on first use (only the owner can read it)."""
    path = root / ".monitor_secret"
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


def password_ok(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def csrf_token(session: dict[str, object]) -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def valid_csrf(session: dict[str, object], given: str | None) -> bool:
    expected = session.get("csrf")
    return isinstance(expected, str) and isinstance(given, str) and hmac.compare_digest(given, expected)
