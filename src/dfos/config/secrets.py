"""Secret configuration values: how they are shown (masked) and where the monitor's password comes from.

A key the registry marks ``secret`` (``MONITOR_PASSWORD``, ``DB_URL``) is never printed: ``dfos config
show`` and the monitor show ``(set, hidden)`` for a password and a database URL with its password
replaced by ``***``.

The monitor's password may come from ``DFOS_MONITOR_PASSWORD`` (the environment, passed down by the
command line), ``MONITOR_PASSWORD`` in ``dfos.toml``, or ``MONITOR_PASSWORD_FILE``: a file only its
owner may read (its first line).  A group- or world-readable password file is refused.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from dfos.config.settings import KeySpec, Settings
from dfos.errors import ConfigError

__all__ = ["HIDDEN", "mask_url", "monitor_password", "read_private_file", "shown_value", "url_password"]

#: What a set password looks like wherever values are shown.
HIDDEN = "(set, hidden)"
#: ``scheme://user:password@``; a password may hold an unencoded '/', '?' or '#': all up to the '@' is hidden.
_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@?#\s]*):(?P<password>[^@\s]*)@")
#: A password file is read only up to this size (a password is one short line).
_MAX_PASSWORD_FILE = 4096


def mask_url(url: str) -> str:
    """A URL with the password of its ``user:password@`` part replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}:***@", url, count=1)


def shown_value(spec: KeySpec, value: str) -> str:
    """How a rendered value may be shown: secrets masked, everything else as is."""
    if not spec.secret or not value:
        return value
    if "://" in value:
        return mask_url(value)
    return HIDDEN


def url_password(url: str) -> str:
    """The password inside a database URL ('' when it has none): text pages mask it."""
    found = _URL_PASSWORD.match(url)
    return found["password"] if found else ""


def read_private_file(path: Path, what: str, limit: int) -> bytes | None:
    """The bytes of a file only its owner may read (a password, the accounts), None when it holds more than
    ``limit`` bytes.  FileNotFoundError passes; :class:`ConfigError` (naming ``what``) for a file that cannot be
    opened, is not a regular file (a symbolic link is not followed) or is readable by its group or others."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"{what} {path}: {exc.strerror}; create it with mode 600") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{what} {path} is not a regular file")
        if info.st_mode & 0o077:
            raise ConfigError(f"{what} {path} is readable by others (mode {stat.S_IMODE(info.st_mode):03o}); "
                              f"run 'chmod 600 {path}'")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    return data if len(data) <= limit else None


def monitor_password(settings: Settings, root: Path) -> str:
    """The monitor's password ('' when none is configured): ``MONITOR_PASSWORD_FILE`` or ``MONITOR_PASSWORD``.

    Raises :class:`ConfigError` when both are set, or the file is missing, not a regular file,
    readable by its group or others, empty, or longer than a line.
    """
    if not settings.MONITOR_PASSWORD_FILE:
        return settings.MONITOR_PASSWORD
    if settings.MONITOR_PASSWORD:
        raise ConfigError("MONITOR_PASSWORD and MONITOR_PASSWORD_FILE are both set; keep one")
    path = Path(settings.MONITOR_PASSWORD_FILE).expanduser()
    path = path if path.is_absolute() else root / path
    try:
        data = read_private_file(path, "MONITOR_PASSWORD_FILE", _MAX_PASSWORD_FILE)
    except FileNotFoundError:
        raise ConfigError(f"MONITOR_PASSWORD_FILE {path}: No such file or directory; create it with mode 600") from None
    if data is None:
        raise ConfigError(f"MONITOR_PASSWORD_FILE {path} is longer than {_MAX_PASSWORD_FILE} bytes; "
                          "it holds one line, the password")
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ConfigError(f"MONITOR_PASSWORD_FILE {path} is not UTF-8 text") from None
    password = lines[0].strip() if lines else ""
    if not password:
        raise ConfigError(f"MONITOR_PASSWORD_FILE {path} is empty; write the password on its first line")
    return password
