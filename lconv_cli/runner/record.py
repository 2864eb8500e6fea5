"""The run record: what every run directory holds.

``config.yaml`` (the config that ran, derived values resolved), ``metrics.json``, ``run.log``
(written by the logging config), figures and ``checkpoint.pt``. Files are written whole or not
at all (write, flush, rename). ``metrics.json`` is the contract other tools read:

    {"experiment", "status": "ok"|"diverged"|"failed"|"interrupted", "seed", "wall_seconds",
     "metrics": {name: number}, "versions": {"lconv", "torch", "python"}, "device",
     "overrides": [...], "error": "..." (when status is not ok)}

A resumed run that fails (a damaged checkpoint, say) never replaces an existing record: its
metrics and config go to ``attempts/<n>-<status>/`` beside it (see :func:`keeps_record`).
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import lconv_cli

STATUSES = ("ok", "diverged", "failed", "interrupted")
METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "checkpoint.pt"
LOG_FILE = "run.log"
ATTEMPTS_DIR = "attempts"


def versions() -> dict[str, str]:
    import torch

    return {"lconv": lconv_cli.__version__, "torch": torch.__version__, "python": platform.python_version()}


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a flushed temporary file and a rename: readers and crashes
    see the old content or the new one, never a torn file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def write_resolved_config(cfg: DictConfig, out_dir: Path) -> Path:
    """``config.yaml``: every value of ``cfg`` resolved, as it runs."""
    return atomic_write_text(Path(out_dir) / CONFIG_FILE, OmegaConf.to_yaml(cfg, resolve=True))


def read_status(out_dir: Path) -> str | None:
    """The status in ``out_dir/metrics.json``; None without one ("unreadable" if it cannot be parsed)."""
    path = Path(out_dir) / METRICS_FILE
    if not path.is_file():
        return None
    try:
        return str(json.loads(path.read_text()).get("status"))
    except (OSError, ValueError):
        return "unreadable"


def keeps_record(previous: str | None, status: str) -> bool:
    """Whether an attempt with ``status`` leaves an existing record with status ``previous`` in place.

    A record is replaced by a success, or when neither is a success by a training outcome
    (interrupted again, diverged) of the resumed run; a failed attempt never replaces a record.
    """
    if previous is None or status == "ok":
        return False
    return previous == "ok" or status == "failed"


def attempt_dir(out_dir: Path, status: str) -> Path:
    """A new ``attempts/<n>-<status>/`` folder of ``out_dir`` for a record that must not replace the run's."""
    base = Path(out_dir) / ATTEMPTS_DIR
    base.mkdir(exist_ok=True)
    n = 1 + sum(1 for _ in base.iterdir())
    while True:
        path = base / f"{n}-{status}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN/inf: store them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics(
    out_dir: Path,
    *,
    experiment: str,
    status: str,
    seed: int,
    wall_seconds: float,
    metrics: Mapping[str, float],
    device: str,
    overrides: list[str],
    error: str | None = None,
) -> Path:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    record: dict[str, Any] = {
        "experiment": experiment,
        "status": status,
        "seed": seed,
        "wall_seconds": round(wall_seconds, 3),
        "metrics": {k: _finite_or_none(float(v) if not isinstance(v, int) else v) for k, v in metrics.items()},
        "versions": versions(),
        "device": device,
        "overrides": list(overrides),
    }
    if error is not None:
        record["error"] = error
    return atomic_write_text(Path(out_dir) / METRICS_FILE, json.dumps(record, indent=2) + "\n")
