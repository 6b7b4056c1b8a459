"""Login secrets and CSRF protection of the monitor.

Actions need a login: the monitor's password (``MONITOR_PASSWORD_FILE``, ``DFOS_MONITOR_PASSWORD`` or
``MONITOR_PASSWORD``; see :mod:`dfos.config.secrets`), or, when none is configured, a random token the
server prints at start (its login URL).  Only a salted scrypt hash of it is kept; a given password is
compared with :func:`hmac.compare_digest`.

The session cookie (``HttpOnly``, ``SameSite=Strict``) is signed with the workspace's key
``.monitor_secret`` (mode 600); ``dfos monitor rotate-secret`` replaces it (:func:`rotate_secret`).
Every state-changing request carries the session's CSRF token in a form field or the
``X-CSRF-Token`` header, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from dfos.fsutil import write_text_atomic

__all__ = ["MAX_PASSWORD", "SECRET_FILE", "PasswordHash", "csrf_token", "load_secret", "rotate_secret", "valid_csrf"]

#: The session-signing key, in the workspace root.
SECRET_FILE = ".monitor_secret"
#: Longer passwords are refused without hashing them (a hash of megabytes costs time).
MAX_PASSWORD = 1024
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


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


def csrf_token(session: dict[str, object]) -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def valid_csrf(session: dict[str, object], given: str | None) -> bool:
    expected = session.get("csrf")
    return isinstance(expected, str) and isinstance(given, str) and hmac.compare_digest(given, expected)
