"""The monitor's audit log, ``$DFO_MON_DIR/monitor_audit.log`` (mode 600): one line per login, failed
login, logout, ToDo or POSTIT edit, launch, certification and key rotation, with time, user, client,
action and target.  The file view never shows it (:mod:`.paths`)."""

from __future__ import annotations

import os

from dfos import clock
from dfos.workspace import Workspace

__all__ = ["AUDIT_LOG", "audit"]

#: The monitor's audit log (``$DFO_MON_DIR``): one line per login, logout, edit and launch.
AUDIT_LOG = "monitor_audit.log"


def _field(value: str) -> str:
    return "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in value)[:300] or "-"


def audit(ws: Workspace, user: str, client: str, action: str, target: str = "") -> None:
    """Append one line to ``$DFO_MON_DIR/monitor_audit.log``: time, user, client, action, target."""
    line = (f"{clock.system_now().isoformat(timespec='seconds')} user={_field(user)} client={_field(client)} "
            f"action={_field(action)} target={_field(target)}\n")
    path = ws.mon_dir / AUDIT_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
