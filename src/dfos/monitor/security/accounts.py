"""Named monitor accounts (``MONITOR_USERS``): each QC scientist logs in with a name and a password, and
every session, audit line and certification decision carries that name.

The accounts file is ``MONITOR_USERS`` (relative to the workspace root; default ``.monitor_users`` in the
root), mode 600, one account per line::

    # dfos monitor accounts: NAME scrypt$N$r$p$SALT$HASH (made by 'dfos monitor user add NAME')
    alice scrypt$16384$8$1$9f2c...$51ab...

``SALT`` and ``HASH`` are hexadecimal: the password's ``hashlib.scrypt`` with that salt and those parameters
(32 bytes).  Blank lines and lines starting with ``#`` are ignored.  The clear-text password is never
written.  ``dfos monitor user add NAME`` reads the password from standard input (asked twice on a terminal)
and adds or replaces the line; ``dfos monitor user remove NAME`` takes it out; ``dfos monitor user list``
names the accounts.

A file readable by its group or others is refused (like ``MONITOR_PASSWORD_FILE``).  The shared password or
the printed token keeps working beside the named accounts: such a session is ``operator``.  The names
``operator``, ``auto``, ``token``, ``cli`` are reserved (sessions of the shared password, automatic decisions
of scoring, the command line).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from dfos.config.secrets import read_private_file
from dfos.errors import ConfigError, NotFound, UsageError
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.workspace import Workspace

__all__ = ["DEFAULT_FILE", "MAX_ACCOUNTS", "RESERVED", "Account", "accounts_path", "add_account", "check_name",
           "find_account", "named_user", "parse_accounts", "read_accounts", "remove_account", "render_accounts"]

_log = logging.getLogger(__name__)

#: The accounts file when ``MONITOR_USERS`` is empty (in the workspace root).
DEFAULT_FILE = ".monitor_users"
#: Names nobody may take: the shared password's sessions, scoring, the command line, the old token name.
RESERVED = frozenset({"operator", "auto", "token", "cli", "-"})
#: An accounts file holds at most this many lines (it is read at every login).
MAX_ACCOUNTS = 1000
_MAX_FILE = 1024 * 1024
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _DKLEN = 2**14, 8, 1, 32
#: The longest password hashed (longer ones are refused without hashing).
MAX_PASSWORD = 1024
_HEADER = "# dfos monitor accounts: NAME scrypt$N$r$p$SALT$HASH (made by 'dfos monitor user add NAME')\n"


@dataclass(frozen=True)
class Account:
    """One named account: its name and the salted scrypt hash of its password."""

    name: str
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def of(cls, name: str, password: str) -> Account:
        """A new account (a fresh random salt)."""
        check_name(name)
        if not password or len(password) > MAX_PASSWORD or "\n" in password:
            raise UsageError(f"a password is one line of 1 to {MAX_PASSWORD} characters")
        salt = secrets.token_bytes(16)
        return cls(name, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, salt, _hash(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P))

    def matches(self, given: str) -> bool:
        """Whether ``given`` is this account's password (constant-time comparison of the hashes)."""
        if not given or len(given) > MAX_PASSWORD:
            return False
        return hmac.compare_digest(_hash(given, self.salt, self.n, self.r, self.p), self.digest)

    def line(self) -> str:
        return f"{self.name} scrypt${self.n}${self.r}${self.p}${self.salt.hex()}${self.digest.hex()}"


def _hash(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p, dklen=_DKLEN,
                          maxmem=256 * 1024 * 1024)


def check_name(name: str) -> str:
    """``name`` when it may name an account (a letter, then up to 63 letters, digits, '.', '_', '-')."""
    if not _NAME.match(name):
        raise UsageError(f"account name {name[:80]!r}: a letter, then up to 63 letters, digits, '.', '_' or '-'")
    if name.lower() in RESERVED:
        raise UsageError(f"account name {name!r} is reserved ({', '.join(sorted(RESERVED - {'-'}))})")
    return name


def _parse_line(line: str, where: str) -> Account:
    words = line.split()
    parts = words[1].split("$") if len(words) == 2 else []
    if len(parts) != 6 or parts[0] != "scrypt" or not all(x.isdigit() for x in parts[1:4]):
        raise ConfigError(f"{where}: expected 'NAME scrypt$N$r$p$SALT$HASH'")
    n, r, p = (int(x) for x in parts[1:4])
    if not (2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        raise ConfigError(f"{where}: scrypt parameters out of range")
    try:
        salt, digest = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        raise ConfigError(f"{where}: SALT and HASH are hexadecimal") from None
    if not _NAME.match(words[0]) or len(salt) < 8 or len(digest) != _DKLEN:
        raise ConfigError(f"{where}: a bad name, salt or hash")
    return Account(words[0], n, r, p, salt, digest)


def parse_accounts(text: str, source: str = "<accounts>") -> dict[str, Account]:
    """The accounts of a file's text (see the module); a malformed line is refused naming it."""
    found: dict[str, Account] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        account = _parse_line(line, f"{source}:{number}")
        if account.name in found:
            raise ConfigError(f"{source}:{number}: {account.name} is named twice")
        found[account.name] = account
        if len(found) > MAX_ACCOUNTS:
            raise ConfigError(f"{source}: more than {MAX_ACCOUNTS} accounts")
    return found


def render_accounts(accounts: dict[str, Account]) -> str:
    return _HEADER + "".join(f"{a.line()}\n" for a in sorted(accounts.values(), key=lambda a: a.name))


def accounts_path(workspace: Workspace) -> Path:
    """The accounts file: ``MONITOR_USERS`` (relative to the workspace root), else ``.monitor_users``."""
    configured = workspace.settings.MONITOR_USERS or DEFAULT_FILE
    path = Path(configured).expanduser()
    return path if path.is_absolute() else workspace.root / path


def read_accounts(path: Path) -> dict[str, Account]:
    """The accounts in ``path`` (none when it does not exist); refused when others may read it."""
    try:
        data = read_private_file(path, "MONITOR_USERS", _MAX_FILE)
    except FileNotFoundError:
        return {}
    if data is None:
        raise ConfigError(f"MONITOR_USERS {path} is larger than {_MAX_FILE} bytes")
    try:
        return parse_accounts(data.decode("utf-8"), str(path))
    except UnicodeDecodeError:
        raise ConfigError(f"MONITOR_USERS {path} is not UTF-8 text") from None


def find_account(path: Path, name: str) -> Account | None:
    """The account ``name`` of ``path`` (None: no such account)."""
    return read_accounts(path).get(name)


def _lock(path: Path) -> Path:
    lock = path.with_name(f"{path.name}.lock")
    os.close(os.open(lock, os.O_RDWR | os.O_CREAT, 0o600))
    return lock


def add_account(path: Path, name: str, password: str) -> bool:
    """Add the account ``name`` (or give it a new password); True when it is new.  Mode 600, atomic."""
    account = Account.of(name, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(_lock(path)):
        accounts = read_accounts(path)
        new = name not in accounts
        accounts[name] = account
        if len(accounts) > MAX_ACCOUNTS:
            raise UsageError(f"{path} holds {MAX_ACCOUNTS} accounts already")
        write_text_atomic(path, render_accounts(accounts), mode=0o600)
    return new


def remove_account(path: Path, name: str) -> None:
    """Take the account ``name`` out of ``path`` (NotFound when it has none)."""
    with exclusive_lock(_lock(path)):
        accounts = read_accounts(path)
        if accounts.pop(name, None) is None:
            raise NotFound(f"no monitor account {name[:80]!r} in {path}")
        write_text_atomic(path, render_accounts(accounts), mode=0o600)


_DUMMY = Account("dummy", _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, b"\0" * 16, b"\0" * _DKLEN)


def named_user(workspace: Workspace, name: str, password: str) -> str | None:
    """The account name when ``password`` is the password of the account ``name``, else None.  An unknown name
    costs a hash too (no telling names apart by time); an unreadable accounts file logs nobody in."""
    try:
        account = read_accounts(accounts_path(workspace)).get(name)
    except ConfigError as exc:
        _log.warning("named logins refused: %s", exc.message)
        account = None
    if account is None:
        _DUMMY.matches(password or "x")
        return None
    return account.name if account.matches(password) else None
