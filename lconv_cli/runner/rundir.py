"""Run and sweep directories: each run gets its own, claimed atomically, and no record is overwritten.

A default directory (``outputs/<task>/<time>`` or ``outputs/multirun/<time>``) is *claimed* with
``os.mkdir``, which fails if the directory exists; a run that finds it taken (another run started
in the same second) takes ``<time>_1``, ``<time>_2``, ... instead. So concurrent runs and sweeps,
in one process or many, on one machine or on a shared file system, never share a directory.

A directory the user names (``paths.output_dir=``, ``hydra.sweep.dir=``) is used as given, but it
is claimed too: a run (or sweep) creates the marker file ``.lconv-claim`` in it with ``O_EXCL``, and
refuses to start where the marker or a record already is. So two runs given the same directory
never both write to it; continue a run with ``resume=``, or choose another directory.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lconv_cli.errors import UserError
from lconv_cli.runner.record import CONFIG_FILE, read_status

MAX_SUFFIX = 10_000
CLAIM_FILE = ".lconv-claim"


def _unwritable(path: Path, error: OSError, key: str) -> UserError:
    reason = error.strerror or type(error).__name__
    return UserError(f"cannot write the run record to {path} ({reason}); set {key} to a writable folder")


def claim(base: str | Path, key: str = "paths.log_dir") -> Path:
    """Create and return ``base``, or ``base_1``, ``base_2``, ... if taken: an atomic create-or-retry.

    Raises:
        UserError: the folder cannot be created (one line naming it and ``key``, the setting to change).
    """
    base = Path(base)
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _unwritable(base.parent, error, key) from None
    for k in range(MAX_SUFFIX):
        candidate = base if k == 0 else base.with_name(f"{base.name}_{k}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as error:
            raise _unwritable(candidate, error, key) from None
        _write_marker(candidate)
        return candidate
    raise UserError(f"{MAX_SUFFIX} run directories named {base}_* exist already; set {key} to another folder")


def _write_marker(path: Path) -> bool:
    """Create ``path/.lconv-claim`` (pid, host, time) unless it exists: True if this call created it."""
    try:
        fd = os.open(path / CLAIM_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    return True


def claim_named(path: str | Path, key: str, refuse: Callable[[Path], None]) -> Path:
    """Claim a directory the user named: create it if needed, let ``refuse`` (``refuse_existing_run``
    or ``refuse_existing_sweep``) reject one that holds a record, and mark it; UserError (one line)
    if it cannot be written or another process marked it first."""
    path = ensure_writable(path, key)
    refuse(path)
    if not _write_marker(path):
        raise UserError(
            f"{path} is claimed by another run ({(path / CLAIM_FILE).read_text().strip()}); "
            f"choose another {key}, or delete that folder if no run uses it"
        )
    return path


def ensure_writable(path: str | Path, key: str) -> Path:
    """Create ``path`` if needed and check that a file can be written in it (root ignores mode bits,
    so only a real write tells). Raises UserError naming the folder and ``key``."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".lconv-write-test-"):
            pass
    except OSError as error:
        raise _unwritable(path, error, key) from None
    return path


def record_status(run_dir: str | Path) -> str | None:
    """The status of the run record in ``run_dir`` ("ok", "interrupted", ...), "unfinished" when it
    has a config but no metrics (still running, or killed), or None when it holds no record."""
    status = read_status(Path(run_dir))
    if status is None and (Path(run_dir) / CONFIG_FILE).is_file():
        return "unfinished"
    return status


def refuse_existing_run(run_dir: str | Path) -> None:
    """UserError if ``run_dir`` already holds a run record (nothing is overwritten silently)."""
    status = record_status(run_dir)
    if status is not None:
        raise UserError(
            f"{run_dir} already holds a run ({status}); continue it with `lconv run resume={run_dir}`, "
            f"or choose another paths.output_dir (or delete that folder)"
        )


def refuse_existing_sweep(sweep_dir: str | Path) -> None:
    """UserError if ``sweep_dir`` already holds a sweep (its multirun.yaml or a job's record)."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        return
    taken = (sweep_dir / "multirun.yaml").is_file() or any(
        record_status(job) is not None for job in sweep_dir.iterdir() if job.is_dir()
    )
    if taken:
        raise UserError(f"{sweep_dir} already holds a sweep; choose another hydra.sweep.dir (or delete that folder)")
