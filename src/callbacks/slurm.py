"""What a SIGTERM means inside a SLURM job, asked of SLURM itself (``scontrol show job``).

SLURM sends SIGTERM for three different reasons, and each needs its own answer from the job:

- ``"preempted"``: the job was selected for preemption and is given a grace time
  (``GraceTime``): it is still RUNNING, with ``PreemptTime`` set. Handled as a time limit: save,
  then requeue the job (submitit's preemption path, which does not use up ``max_num_timeout``).
- ``"requeued"``: SLURM has already requeued the job (preemption with ``PreemptMode=REQUEUE`` and
  no grace time, or ``scontrol requeue``): its ``Restarts`` count is past this run's
  ``SLURM_RESTART_COUNT``. Save and end without a result: the job starts again and resumes that save,
  and the sweep waits for it.
- ``None``: anything else (``scancel``, a node going down, a failed query): the job ends here,
  marked ``INTERRUPTED`` with the command that continues it.

Neither submitit nor Lightning reads these two fields (submitit asks ``sacct`` for a job's state,
which holds neither), hence this small reader of ``scontrol``'s one-line form.
"""

import os
import re
import shutil
import signal
import subprocess
import time

from src.signals import handling

PREEMPTED, REQUEUED = "preempted", "requeued"


def job_fields(text: str) -> dict[str, str]:
    """``Key=value`` pairs of ``scontrol show job -o``'s line (values that hold spaces are cut at the first)."""
    return dict(re.findall(r"(?:^|\s)([A-Za-z/:]+)=(\S*)", text))


def why_slurm_stops(fields: dict[str, str], own_restarts: int) -> str | None:
    """``"requeued"``, ``"preempted"`` or None (see the module's text) from a job's fields."""
    restarts = fields.get("Restarts", "")
    if restarts.isdigit() and int(restarts) > own_restarts:
        return REQUEUED
    if fields.get("PreemptTime", "None") not in ("None", "Unknown", "") and fields.get("JobState") == "RUNNING":
        return PREEMPTED
    return None


def ask_slurm(command: list[str], timeout: float) -> str | None:
    """``command``'s output, or None if it fails. SIGTERM is ignored while it runs (a child inherits
    that): SLURM signals every process of a job it stops, and may reach this one as it starts."""
    try:
        with handling(signal.SIG_IGN, [signal.SIGTERM]):
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def why_slurm_stops_this_job(timeout: float = 10, tries: int = 3) -> str | None:
    """Why SLURM sent this process's job a SIGTERM, if it is a SLURM job and ``scontrol`` answers."""
    job = os.environ.get("SLURM_JOB_ID", "")
    scontrol = shutil.which("scontrol")
    if not job.isdigit() or scontrol is None:
        return None
    for attempt in range(tries):
        if (answer := ask_slurm([scontrol, "show", "job", "-o", job], timeout)) is not None:
            own = os.environ.get("SLURM_RESTART_COUNT", "0")
            return why_slurm_stops(job_fields(answer), int(own) if own.isdigit() else 0)
        time.sleep(0.5 * (attempt + 1))
    return None
