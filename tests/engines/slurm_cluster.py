"""A private single-node Slurm cluster: Debian's slurmctld + slurmd + munge, as root, no systemd.

Everything lives in a fresh directory (configuration, munge key and socket, state, logs); both
daemons listen on 127.0.0.1 only, on free ports; clients find the cluster through ``SLURM_CONF``.
Stopped by the PIDs the daemons wrote.  Used by the test suite and the benchmarks; also a
command (``python tests/engines/slurm_cluster.py start|stop DIR``) to try dfos on Slurm by hand.

Settings that matter (found on this kind of machine, see docs/batch.md): the scheduler runs at
once after a submission (``batch_sched_delay=0``: otherwise every dependency link costs 3 s);
finished jobs stay visible for 10 minutes (``MinJobAge``); ``RealMemory`` is set (otherwise any
``--mem`` is refused); no accounting daemon, finished jobs are written to a job-completion file.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DAEMONS = ("slurmd", "slurmctld", "munged")
PACKAGES = "slurmctld slurmd slurm-client munge"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(base: Path, host: str) -> str:
    cpus = os.cpu_count() or 1
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return "\n".join([
        "# written by dfos' tests/engines/slurm_cluster.py: one node, loopback only, root, no systemd",
        "ClusterName=dfosci",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}",
        "CommunicationParameters=NoInAddrAny,NoCtldInAddrAny",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={base}/munge/munge.socket",
        f"StateSaveLocation={base}/state",
        f"SlurmdSpoolDir={base}/spool",
        f"SlurmctldPidFile={base}/run/slurmctld.pid",
        f"SlurmdPidFile={base}/run/slurmd.pid",
        f"SlurmctldLogFile={base}/log/slurmctld.log",
        f"SlurmdLogFile={base}/log/slurmd.log",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "MpiDefault=none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={base}/log/jobcomp.txt",
        "SchedulerType=sched/backfill",
        "SchedulerParameters=batch_sched_delay=0",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "ReturnToService=2",
        "MinJobAge=600",
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={int(mem_kb / 1024 * 0.9)} State=UNKNOWN",
        f"PartitionName=dfosci Nodes={host} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


def start(base: Path) -> dict[str, str]:
    """Start the cluster in ``base``; return the environment clients need (``SLURM_CONF``)."""
    missing = [p for p in ("munged", "slurmctld", "slurmd", "sbatch") if shutil.which(p) is None]
    if missing:
        raise RuntimeError(f"Slurm is not installed (missing {', '.join(missing)}): "
                           f"apt-get install --no-install-recommends {PACKAGES}  ('make test' does it)")
    if os.geteuid() != 0:
        raise RuntimeError("the private Slurm cluster runs its daemons as root")
    for sub in ("munge", "state", "spool", "run", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "munge").chmod(0o755)
    key = base / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = base / "slurm.conf"
    conf.write_text(_config(base, socket.gethostname().split(".")[0]))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    subprocess.run(["munged", "--force", f"--key-file={key}", f"--socket={base}/munge/munge.socket",
                    f"--pid-file={base}/run/munged.pid", f"--log-file={base}/log/munged.log",
                    f"--seed-file={base}/munge/munged.seed"], check=True, capture_output=True)
    subprocess.run(["slurmctld", "-i", "-f", str(conf)], check=True, capture_output=True, env=env)
    subprocess.run(["slurmd", "-f", str(conf)], check=True, capture_output=True, env=env)
    deadline = time.monotonic() + 60
    state = ""
    while time.monotonic() < deadline:
        done = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True, env=env)
        state = done.stdout.strip()
        if state == "idle":
            return {"SLURM_CONF": str(conf)}
        time.sleep(0.1)
    stop(base)
    log = (base / "log" / "slurmctld.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"the Slurm node did not become idle within 60 s (state {state!r}); slurmctld log:\n{log}")


def stop(base: Path) -> None:
    """Stop the daemons by the PIDs they wrote (slurmd first); wait until they are gone."""
    for daemon in DAEMONS:
        pid_file = base / "run" / f"{daemon}.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)


@contextmanager
def cluster() -> Iterator[dict[str, str]]:
    """A cluster for the duration of the block (its environment); removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="dfos-slurm-", dir="/tmp"))
    try:
        env = start(base)
        try:
            yield env
        finally:
            stop(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit("usage: slurm_cluster.py start|stop DIR")
    where = Path(sys.argv[2]).resolve()
    if sys.argv[1] == "start":
        print(f"export SLURM_CONF={start(where)['SLURM_CONF']}")
    else:
        stop(where)
