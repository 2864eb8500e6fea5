"""How many CPU threads a run uses: ``num_threads=auto`` takes the CPUs that are free when it starts.

Torch's OpenMP threads busy-wait between parallel regions. Two runs that each start one thread per
core on a shared machine therefore wait on each other's descheduled threads at every region: each
runs 10–50× slower than alone (measured, benchmarks/shared_cpu.py). A run that takes only the CPUs
nobody is using avoids this, and alone it still gets them all. ``auto`` therefore means:

* the CPUs this process may use (its affinity mask and cgroup CPU quota), less those busy with
  other work over a short sample of ``/proc/stat`` at start, or, if more, those already taken by
  other lconv runs on this machine (each run notes its count in a small claim file, and runs that
  start together decide one after another under a lock), at least one;
* in a parallel local sweep (``launcher=joblib``): the CPUs divided by the number of parallel jobs.

An integer pins the count. The count is recorded in ``config.yaml`` (``num_threads``) and a resumed
or rerun run uses the recorded one, since CPU results can differ in the last digits between thread
counts (reductions are split per thread).
"""

from __future__ import annotations

import atexit
import fcntl
import math
import os
import tempfile
import time
from pathlib import Path

SAMPLE_SECONDS = 0.1


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    quota_file = Path("/sys/fs/cgroup/cpu.max")
    try:
        quota, period = quota_file.read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


def _cpu_times(cpus: set[int]) -> tuple[int, int] | None:
    """(idle, total) jiffies summed over ``cpus`` from /proc/stat, or None where it cannot be read."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    idle = total = 0
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        values = [int(v) for v in fields[:8]]
        idle += values[3] + values[4]  # idle + iowait
        total += sum(values)
    return idle, total


def busy_cpus(seconds: float = SAMPLE_SECONDS) -> float:
    """How many of this process's CPUs other work kept busy over ``seconds`` (0.0 where unknown)."""
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:
        return 0.0
    before = _cpu_times(cpus)
    time.sleep(seconds)
    after = _cpu_times(cpus)
    if before is None or after is None or after[1] <= before[1]:
        return 0.0
    idle_fraction = (after[0] - before[0]) / (after[1] - before[1])
    return len(cpus) * (1.0 - idle_fraction)


def auto_threads(parallel_jobs: int | None = None, busy: float | None = None) -> int:
    """The thread count of ``num_threads=auto`` for ``busy`` CPUs in use by others (see the module docstring)."""
    cpus = available_cpus()
    if parallel_jobs:
        return max(1, cpus // int(parallel_jobs))
    busy = busy_cpus() if busy is None else busy
    return max(1, min(cpus, math.floor(cpus - busy + 0.5)))


def claims_dir() -> Path:
    """Where the lconv runs of this user note their thread counts (one folder per machine and user)."""
    return Path(tempfile.gettempdir()) / f"lconv-cpu-claims-{os.getuid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claimed_by_others(folder: Path) -> int:
    """Threads claimed by other live lconv processes (stale claims are removed)."""
    total = 0
    for claim in folder.glob("*.threads"):
        pid = int(claim.stem) if claim.stem.isdigit() else -1
        if pid == os.getpid():
            continue
        if pid < 0 or not _alive(pid):
            claim.unlink(missing_ok=True)
            continue
        try:
            total += int(claim.read_text().strip() or 0)
        except (OSError, ValueError):
            continue
    return total


def _claim_file() -> Path:
    return claims_dir() / f"{os.getpid()}.threads"


def release_claim() -> None:
    """Remove this process's claim (the run ended; a claim of a killed process is removed by the next run)."""
    _claim_file().unlink(missing_ok=True)


def claim_auto_threads(parallel_jobs: int | None = None) -> int:
    """``auto_threads``, deciding under a machine-wide lock with the counts other lconv runs claimed,
    and noting this process's count until :func:`release_claim` (or exit). Falls back to
    ``auto_threads`` where the claim folder cannot be used."""
    if parallel_jobs:
        return auto_threads(parallel_jobs=parallel_jobs)
    folder = claims_dir()
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        with open(folder / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            threads = auto_threads(busy=max(busy_cpus(), float(claimed_by_others(folder))))
            _claim_file().write_text(f"{threads}\n")
    except OSError:
        return auto_threads()
    atexit.register(release_claim)
    return threads
