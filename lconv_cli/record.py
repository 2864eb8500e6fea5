"""The run record: what every run directory holds.

``config.yaml`` (resolved), ``metrics.json``, ``run.log`` (written by the logging config),
figures and checkpoints. ``metrics.json`` is the contract other tools read:

    {"experiment", "status": "ok"|"diverged"|"failed"|"interrupted", "seed", "wall_seconds",
     "metrics": {name: number}, "versions": {"lconv", "torch", "python"}, "device",
     "overrides": [...], "error": "..." (when status is not ok)}
"""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

import lconv_cli

STATUSES = ("ok", "diverged", "failed", "interrupted")
METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.yaml"
CHECKPOINT_FILE = "checkpoint.pt"
LOG_FILE = "run.log"


def versions() -> dict[str, str]:
    import torch

    return {"lconv": lconv_cli.__version__, "torch": torch.__version__, "python": platform.python_version()}


def write_resolved_config(cfg: DictConfig, out_dir: Path) -> Path:
    path = Path(out_dir) / CONFIG_FILE
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    return path


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
    path = Path(out_dir) / METRICS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)
    return path

