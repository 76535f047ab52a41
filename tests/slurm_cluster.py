"""A one-node SLURM cluster on the loopback address, for the cluster tests (Debian's slurm-wlm and munge).

``python -m tests.slurm_cluster FOLDER`` starts one and prints the ``SLURM_CONF`` to export;
``SlurmCluster(folder)`` does the same for a pytest fixture and stops it afterwards (munged too,
when it started it). Its state, spool, logs and pid files live in ``folder``; nothing else of the
machine is configured but the munge key and munge's own folders (what munged needs to start).
Needs root, as slurmd does.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

MUNGE_DIRS = ("/run/munge", "/var/log/munge", "/var/lib/munge", "/etc/munge")


def available() -> str | None:
    """Why no cluster can be started here (None: it can)."""
    missing = [tool for tool in ("slurmctld", "slurmd", "munged", "sbatch") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install slurm-wlm munge)"
    if os.name != "posix" or os.geteuid() != 0:
        return "slurmd runs as root"
    return None


def start_munge() -> bool:
    """Start munged unless one runs; whether this started it."""
    if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0:
        return False
    for folder in MUNGE_DIRS:
        Path(folder).mkdir(parents=True, exist_ok=True)
    if not Path("/etc/munge/munge.key").exists():
        subprocess.run(["/usr/sbin/mungekey", "-c"], check=True, timeout=30)
    subprocess.run(["chown", "-R", "munge:munge", *MUNGE_DIRS], check=True, timeout=30)
    subprocess.run(["runuser", "-u", "munge", "--", "munged", "--force"], check=True, timeout=30)
    return True


def write_config(folder: Path) -> Path:
    host = socket.gethostname()
    cpus = os.cpu_count() or 1
    config = folder / "slurm.conf"
    config.write_text(
        f"""ClusterName=local
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
MinJobAge=600
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
SchedulerParameters=sched_interval=5,bf_interval=2
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=16000
# a job in urgent preempts jobs in debug (SIGTERM, 30 s of grace, then requeued) or in quick (requeued, then SIGTERM)
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=30
PartitionName=quick Nodes=ALL MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=0
PartitionName=urgent Nodes=ALL MaxTime=INFINITE State=UP PriorityTier=2 PreemptMode=OFF
"""
    )
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return config


class SlurmCluster:
    """A running one-node cluster; ``env`` holds ``SLURM_CONF`` for the commands that use it."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config = write_config(self.folder)
        self.env = {**os.environ, "SLURM_CONF": str(self.config)}
        self.started_munge = False

    def start(self, timeout: float = 60) -> "SlurmCluster":
        self.started_munge = start_munge()
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run([daemon, "-f", str(self.config)], env=self.env, check=True, timeout=30)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env, capture_output=True, text=True)
            if state.stdout.strip() == "idle":
                return self
            time.sleep(0.5)
        raise RuntimeError(f"the SLURM node did not come up: {(self.folder / 'slurmd.log').read_text()[-2000:]}")

    def stop(self) -> None:
        subprocess.run(["scancel", "--full", "-u", "root"], env=self.env, capture_output=True, timeout=30)
        for daemon in ("slurmd", "slurmctld"):
            pid_file = self.folder / f"{daemon}.pid"
            if pid_file.exists():
                subprocess.run(["kill", pid_file.read_text().strip()], capture_output=True, timeout=30)
        if self.started_munge:  # a munged that ran before is the machine's: left running
            subprocess.run(["pkill", "-x", "munged"], capture_output=True, timeout=30)
        time.sleep(1)

    def preempt(self) -> None:
        """Submit a job to the urgent partition that needs the whole node: SLURM preempts what runs there."""
        subprocess.run(
            ["sbatch", "-p", "urgent", "--exclusive", "--mem=1G", "-o", "/dev/null", "--wrap", "sleep 3"],
            env=self.env, check=True, capture_output=True, timeout=30,
        )  # fmt: skip

    def release_held_jobs(self) -> None:
        """A requeued job waits about two minutes (its BeginTime); start every pending job now."""
        pending = subprocess.run(
            ["squeue", "-h", "-t", "PD", "-o", "%i"], env=self.env, capture_output=True, text=True, timeout=30
        )
        for job in pending.stdout.split():
            subprocess.run(
                ["scontrol", "update", f"jobid={job}", "starttime=now"], env=self.env, capture_output=True, timeout=30
            )


if __name__ == "__main__":
    if reason := available():
        sys.exit(reason)
    cluster = SlurmCluster(Path(sys.argv[1])).start()
    print(f"export SLURM_CONF={cluster.config}")
