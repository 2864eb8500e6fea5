"""One timed ``lconv run experiment=<discovery experiment>`` for the algebra benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def timed_discovery(
    overrides: list[str], run_dir: Path, label: str, experiment: str = "algebra_discovery"
) -> tuple[float, dict, dict | None]:
    """(wall seconds of the whole command, its metrics, the ``found`` entry of its algebra.json or None
    when the experiment writes none); exits with the run's stderr if it fails."""
    command = [
        str(Path(sys.executable).with_name("lconv")),
        "run",
        f"experiment={experiment}",
        *overrides,
        "logger=none",
        f"paths.output_dir={run_dir}",
    ]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    algebra = run_dir / "algebra.json"
    return wall, metrics, json.loads(algebra.read_text())["found"] if algebra.is_file() else None
