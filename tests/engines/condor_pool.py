"""A personal HTCondor pool for ``make test-condor``: Debian trixie's ``condor`` in a debootstrap chroot.

Debian bookworm has no HTCondor; trixie's ``condor`` (23.x) needs a newer C library, so the pool
runs in a trixie chroot (``/var/tmp/dfos-condor-root``, kept between runs: set up once, about two
minutes, then started in seconds): central manager, submit and execute node in one.  Trixie has
no ESO pipelines, so a job does not stay in the chroot: it goes back to this machine's file
system (bind-mounted at ``/host``) through ``dfos-host``, a copy of ``chroot`` that only the
pool's jobs can run and that carries the capabilities to enter ``/host`` as root, and runs this
machine's dfos and esorex there, as a Slurm job does.  (HTCondor refuses to run jobs as root; a
real site runs them as the QC operator's account, which owns the workspace.)  dfos reaches the
pool's commands through ``CONDOR_COMMAND = "chroot --userspec=ci:ci /var/tmp/dfos-condor-root"``.

Loopback only (``NETWORK_INTERFACE``, no IPv6), file-system authentication, 1-second negotiation
cycles.  Stopped by the PID condor_master wrote; the mounts are undone.

    python tests/engines/condor_pool.py setup|start|stop
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(os.environ.get("DFOS_CONDOR_ROOT", "/var/tmp/dfos-condor-root"))
REPO = Path(__file__).resolve().parents[2]
WORK = Path("/var/tmp/dfos-condor-work")
"""Workspaces handed to the pool live here (every directory above them open to the job user)."""
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ["condor", "libcap2-bin", "procps"]
USER = "ci"
HOST_HELPER = "/usr/local/sbin/dfos-host"
"""Inside the chroot: enters /host (this machine's root) as root; runnable by the job user only."""

CONFIG = """\
# dfos' personal HTCondor pool for tests: one machine, loopback only (tests/engines/condor_pool.py)
use ROLE: CentralManager
use ROLE: Submit
use ROLE: Execute
CONDOR_HOST = 127.0.0.1
NETWORK_INTERFACE = 127.0.0.1
BIND_ALL_INTERFACES = False
ENABLE_IPV6 = False
COLLECTOR_PORT = 19718
COLLECTOR_HOST = 127.0.0.1:$(COLLECTOR_PORT)
SHARED_PORT_PORT = $(COLLECTOR_PORT)
SEC_DEFAULT_AUTHENTICATION = REQUIRED
SEC_DEFAULT_AUTHENTICATION_METHODS = FS
SEC_CLIENT_AUTHENTICATION_METHODS = FS
ALLOW_DAEMON = condor@$(UID_DOMAIN), root@$(UID_DOMAIN)
ALLOW_NEGOTIATOR = condor@$(UID_DOMAIN)
ALLOW_ADMINISTRATOR = root@$(UID_DOMAIN), condor@$(UID_DOMAIN)
ALLOW_WRITE = *
ALLOW_READ = *
NUM_CPUS = {cpus}
RUNBENCHMARKS = 0
SCHEDD_INTERVAL = 1
NEGOTIATOR_INTERVAL = 1
NEGOTIATOR_CYCLE_DELAY = 1
NEGOTIATOR_MIN_INTERVAL = 1
STARTER_UPDATE_INTERVAL = 2
SHADOW_QUEUE_UPDATE_INTERVAL = 2
UPDATE_INTERVAL = 2
STARTD_CONTACT_TIMEOUT = 5
DAGMAN_USER_LOG_SCAN_INTERVAL = 1
CLAIM_WORKLIFE = 3600
CONDOR_Q_ONLY_MY_JOBS = False
CONDOR_Q_DASH_BATCH_IS_DEFAULT = False
# unshare(CLONE_NEWNS) fails in a chroot: without these every job is held
MOUNT_UNDER_SCRATCH =
MOUNT_PRIVATE_DEV_SHM = False
"""


def _run(argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), check=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def inside(argv: Sequence[str], user: str | None = None) -> list[str]:
    """The argument list that runs ``argv`` in the chroot (as ``user``)."""
    return ["chroot", *([f"--userspec={user}:{user}"] if user else []), str(ROOT), *argv]


def _stamp() -> str:
    return hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()[:16]


def _mount(source: Path, target: Path, how: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mountpoint", "-q", str(target)]).returncode == 0:
        return
    if how == "proc":
        _run(["mount", "-t", "proc", "proc", str(target)])
    else:  # rbind: this machine's whole tree (its /proc, /dev, a /tmp of its own ...), kept from flowing back
        _run(["mount", f"--{how}", str(source), str(target)])
        _run(["mount", "--make-rslave", str(target)])


def _mounts() -> list[tuple[Path, Path, str]]:
    return [(Path("/proc"), ROOT / "proc", "proc"), (Path("/dev"), ROOT / "dev", "bind"),
            (Path("/"), ROOT / "host", "rbind"), (WORK, ROOT / str(WORK).lstrip("/"), "bind")]


def batch_dfos() -> str:
    """BATCH_DFOS for a workspace on this pool: the helper, then this machine's dfos."""
    return f"{HOST_HELPER} --userspec=0:0 /host {REPO / '.venv' / 'bin' / 'dfos'}"


def condor_command() -> str:
    """CONDOR_COMMAND for a workspace on this pool."""
    return f"chroot --userspec={USER}:{USER} {ROOT}"


def setup() -> None:
    """Create (or bring up to date) the chroot: trixie, condor, esorex, UVES, dfos in a venv."""
    if os.geteuid() != 0:
        raise RuntimeError("the personal HTCondor pool needs root (debootstrap, chroot, mounts)")
    stamp = ROOT / ".dfos-setup"
    if stamp.exists() and stamp.read_text() == _stamp() and (ROOT / HOST_HELPER.lstrip("/")).exists():
        return
    if shutil.which("debootstrap") is None:
        _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "debootstrap"],
             env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not (ROOT / "bin" / "sh").exists():
        print(f"debootstrap trixie into {ROOT} (about a minute)", flush=True)
        _run(["debootstrap", "--variant=minbase", "trixie", str(ROOT), MIRROR], stdout=subprocess.DEVNULL)
    policy = ROOT / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    for name in ("resolv.conf", "hosts"):
        shutil.copy(f"/etc/{name}", ROOT / "etc" / name)
    WORK.mkdir(parents=True, exist_ok=True)
    for source, target, how in _mounts()[:2]:  # /proc and /dev only while installing
        _mount(source, target, how)
    try:
        print("apt-get install " + " ".join(PACKAGES) + " in the chroot", flush=True)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
        _run(inside(["apt-get", "update", "-q"]), env=env, stdout=subprocess.DEVNULL)
        _run(inside(["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]), env=env,
             stdout=subprocess.DEVNULL)
        if subprocess.run(inside(["id", USER]), capture_output=True).returncode != 0:
            _run(inside(["useradd", "-m", "-s", "/bin/sh", USER]), env=env)
        _run(inside(["install", "-o", "root", "-g", USER, "-m", "0750", "/usr/sbin/chroot", HOST_HELPER]), env=env)
        _run(inside(["setcap", "cap_sys_chroot,cap_setuid,cap_setgid+ep", HOST_HELPER]), env=env)
    finally:
        _unmount()
    stamp.write_text(_stamp())


def _unmount() -> None:
    for _, target, _ in reversed(_mounts()):
        if subprocess.run(["mountpoint", "-q", str(target)]).returncode == 0:
            subprocess.run(["umount", "-l", str(target)], check=False)


def start() -> None:
    """Mount, start condor_master in the chroot, wait until a slot and the schedd are in the collector."""
    if not (ROOT / ".dfos-setup").exists():
        raise RuntimeError(f"no HTCondor chroot at {ROOT}: run 'python tests/engines/condor_pool.py setup' "
                           f"('make test-condor' does it)")
    (ROOT / "etc/condor/config.d/50-dfos-ci.config").write_text(CONFIG.format(cpus=os.cpu_count() or 1))
    WORK.mkdir(parents=True, exist_ok=True)
    WORK.chmod(0o1777)
    for source, target, how in _mounts():
        _mount(source, target, how)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
    _run(inside(["sh", "-c", "mkdir -p /run/condor /run/lock/condor && chown condor:condor /run/condor "
                             "/run/lock/condor"]), env=env)
    _run(inside(["/usr/sbin/condor_master", "-pidfile", "/run/condor/master.pid"]), env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        slots = subprocess.run(inside(["condor_status", "-af", "Name"]), capture_output=True, text=True, env=env)
        schedds = subprocess.run(inside(["condor_status", "-schedd", "-af", "Name"]), capture_output=True,
                                 text=True, env=env)
        if slots.stdout.strip() and schedds.stdout.strip():
            return
        time.sleep(0.3)
    stop()
    raise RuntimeError("the personal HTCondor pool did not show a slot and a schedd within 120 s "
                       f"(logs in {ROOT}/var/log/condor)")


def stop() -> None:
    """Stop condor_master (it stops its daemons) by its PID, then undo the mounts."""
    pid_file = ROOT / "run/condor/master.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pid = 0
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pid_file.unlink(missing_ok=True)
    _unmount()


def user_ids() -> tuple[int, int]:
    """uid and gid of the chroot's job user (files it must write are given to it)."""
    for line in (ROOT / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == USER:
            return int(fields[2]), int(fields[3])
    raise RuntimeError(f"no user {USER} in {ROOT}")


@contextmanager
def pool() -> Iterator[None]:
    """The pool, set up if needed and running for the block."""
    setup()
    start()
    try:
        yield
    finally:
        stop()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("setup", "start", "stop"):
        sys.exit("usage: condor_pool.py setup|start|stop")
    {"setup": setup, "start": start, "stop": stop}[sys.argv[1]]()
