"""End-of-sweep summary: one row per job in ``summary.json`` / ``summary.csv`` and a rich table.

Written when the sweep ends, and also when it is interrupted (SIGINT/SIGTERM): then the jobs that
ended keep their status, the one that was running is ``interrupted`` and those that never started
are listed as ``not_started`` (with their overrides, from the sweep's ``multirun.yaml``).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from rich.table import Table

from lconv_cli.runner.console import format_number, stdout_console
from lconv_cli.runner.record import METRICS_FILE, atomic_write_text

log = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"


def _job_sort_key(path: Path) -> tuple[int, str]:
    head = path.name.split("_", 1)[0]
    return (int(head), path.name) if head.isdigit() else (1 << 30, path.name)


def collect_rows(sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per job directory (those holding Hydra's ``.hydra/``) under ``sweep_dir``."""
    rows = []
    for job_dir in sorted((p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()), key=_job_sort_key):
        overrides_file = job_dir / ".hydra" / "overrides.yaml"
        overrides = list(OmegaConf.load(overrides_file)) if overrides_file.is_file() else []
        row: dict[str, Any] = {"job": job_dir.name, "overrides": overrides}
        metrics_file = job_dir / METRICS_FILE
        if metrics_file.is_file():
            record = json.loads(metrics_file.read_text())
            row.update(
                status=record["status"],
                seed=record.get("seed"),
                wall_seconds=record.get("wall_seconds"),
                metrics=record.get("metrics", {}),
                error=record.get("error"),
            )
        else:
            row.update(status="failed", seed=None, wall_seconds=None, metrics={}, error="no metrics.json (job crashed)")
        rows.append(row)
    return rows


def write_summary(sweep_dir: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write_text(sweep_dir / SUMMARY_FILE, json.dumps(rows, indent=2) + "\n")
    metric_names = sorted({name for row in rows for name in row["metrics"]})
    with open(sweep_dir / "summary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["job", "status", "overrides", "seed", "wall_seconds", *metric_names, "error"])
        for row in rows:
            writer.writerow(
                [row["job"], row["status"], " ".join(row["overrides"]), row["seed"], row["wall_seconds"]]
                + [row["metrics"].get(name) for name in metric_names]
                + [row.get("error") or ""]
            )


def read_summary(sweep_dir: Path) -> list[dict[str, Any]] | None:
    """The rows of ``sweep_dir/summary.json``; None when the sweep wrote none (or it cannot be read)."""
    path = Path(sweep_dir) / SUMMARY_FILE
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def varying_overrides(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Each row's overrides minus those shared by every job (what the sweep varies)."""
    shared = set.intersection(*(set(row["overrides"]) for row in rows)) if rows else set()
    return [[o for o in row["overrides"] if o not in shared] for row in rows]


def summary_table(title: str, rows: list[dict[str, Any]]) -> Table:
    metric_names = sorted({name for row in rows for name in row["metrics"]})
    table = Table(title=title, header_style="bold")
    for column in ["job", "overrides", "status", *metric_names]:
        table.add_column(column, justify="right" if column in metric_names else "left")
    for row, overrides in zip(rows, varying_overrides(rows)):
        style = None if row["status"] == "ok" else "red"
        cells = [row["job"], " ".join(overrides), row["status"]]
        cells += [format_number(row["metrics"].get(name, "")) for name in metric_names]
        table.add_row(*cells, style=style)
    return table


def planned_jobs(sweep_dir: Path) -> list[list[str]]:
    """Each job's overrides, in job order, as the basic sweeper expands the sweep's ``multirun.yaml``
    (empty when the file is missing or another sweeper ran)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    multirun_file = sweep_dir / "multirun.yaml"
    if not multirun_file.is_file():
        return []
    hydra_cfg = OmegaConf.load(multirun_file).hydra
    if hydra_cfg.runtime.choices.get("hydra/sweeper") != "basic":
        return []
    parsed = OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))
    return [list(job) for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def summarize_interrupted(sweep_dir: Path) -> list[dict[str, Any]]:
    """Write and print the summary of an interrupted sweep: the jobs that ran, then those never started."""
    rows = collect_rows(sweep_dir)
    started = {row["job"] for row in rows}
    for number, overrides in enumerate(planned_jobs(sweep_dir)):
        if str(number) not in started:
            rows.append(
                {
                    "job": str(number),
                    "overrides": overrides,
                    "status": "not_started",
                    "seed": None,
                    "wall_seconds": None,
                    "metrics": {},
                    "error": "the sweep was interrupted before this job",
                }
            )
    write_summary(sweep_dir, rows)
    done = sum(row["status"] == "ok" for row in rows)
    stdout_console.print(summary_table(f"sweep {sweep_dir} interrupted ({done}/{len(rows)} ok)", rows))
    return rows


class SweepSummary(Callback):
    """Hydra callback: gathers every job's ``metrics.json`` when a multirun ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = collect_rows(sweep_dir)
        write_summary(sweep_dir, rows)
        failed = sum(row["status"] != "ok" for row in rows)
        stdout_console.print(summary_table(f"sweep {sweep_dir} ({len(rows) - failed}/{len(rows)} ok)", rows))
