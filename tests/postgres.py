"""A private PostgreSQL server for the test session: Debian's binaries, a Unix socket in a fresh
directory, no TCP port, trust authentication, gone when the session ends.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user Debian's
package creates (``runuser``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; 'make test' installs it)")
    return Path(found[-1]).parent


@contextmanager
def server() -> Iterator[str]:
    """Start a server; yield its base URL (``postgresql://postgres@/{db}?host=...``: fill in a database)."""
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="dfos-pg-", dir="/tmp"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = base / "data"
    try:
        subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
        options = f"-k {base} -h '' -p 5432 -F -c fsync=off -c max_connections=60"
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l",
                        str(base / "server.log"), "-o", options, "start"], check=True, capture_output=True)
        try:
            yield f"postgresql://postgres@/{{db}}?host={base}&port=5432"
        finally:
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def database(base_url: str) -> Iterator[str]:
    """A fresh empty database on the server; dropped afterwards (connections still open are ended)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = base_url.format(db="postgres")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base_url.format(db=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
