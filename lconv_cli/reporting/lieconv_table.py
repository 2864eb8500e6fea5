"""LieConv results tables (LieConv paper Table 1, RotMNIST; Table 2, QM9) from finished runs.

Every ``lieconv_rotmnist`` / ``lieconv_qm9`` run directory under the given folders (``metrics.json``
+ resolved ``config.yaml``) is one row, keyed by group (and QM9 target), next to the published
number where there is one. Written as markdown and CSV.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from omegaconf import OmegaConf

from lconv_cli.errors import UserError
from lconv_cli.runner.record import CONFIG_FILE, METRICS_FILE

# LieConv README (12k train + SO(2) augmentation) test error, %; paper Table 1 in parentheses where given.
ROTMNIST_PUBLISHED = {
    "Trivial": "1.44 (1.58)",
    "T2": "1.32",
    "SO2": "1.27 (1.42)",
    "RxSO2": "1.13",
    "SE2": "1.13 (1.24)",
}
# LieConv README, T(3) MAE (energies in meV); HOMO also for the other groups.
QM9_PUBLISHED = {
    ("T3", "alpha"): ".084",
    ("T3", "gap"): "49",
    ("T3", "homo"): "30",
    ("T3", "lumo"): "25",
    ("T3", "mu"): ".032",
    ("T3", "Cv"): ".038",
    ("T3", "G"): "22",
    ("T3", "H"): "24",
    ("T3", "r2"): ".800",
    ("T3", "U"): "19",
    ("T3", "U0"): "19",
    ("T3", "zpve"): "2.280",
    ("Trivial", "homo"): "31.7",
    ("SO3", "homo"): "65.4",
    ("SE3", "homo"): "26.8",
}


def collect_runs(folders: list[Path]) -> list[tuple[dict, dict]]:
    """(resolved config, metrics record) of every finished LieConv run under ``folders``."""
    runs = []
    for folder in folders:
        for metrics_path in sorted(Path(folder).rglob(METRICS_FILE)):
            config_path = metrics_path.with_name(CONFIG_FILE)
            if not config_path.is_file():
                continue
            config = OmegaConf.to_container(OmegaConf.load(config_path), resolve=False)
            if config.get("task") in ("lieconv_rotmnist", "lieconv_qm9"):
                runs.append((config, json.loads(metrics_path.read_text())))
    if not runs:
        raise UserError(f"no lieconv_rotmnist or lieconv_qm9 runs under {', '.join(map(str, folders))}")
    return runs


def table_rows(runs: list[tuple[dict, dict]]) -> list[dict[str, object]]:
    rows = []
    for config, record in runs:
        metrics, group = record.get("metrics", {}), str(config.get("group"))
        row = {"experiment": config["task"], "group": group, "seed": config.get("seed"), "status": record.get("status")}
        if config["task"] == "lieconv_rotmnist":
            row.update(
                target="digit",
                metric="test error (%)",
                value=metrics.get("test_error"),
                baseline="",
                published=ROTMNIST_PUBLISHED.get(group, ""),
            )
        else:
            target = config["data"]["target"]
            row.update(
                target=target,
                metric="test MAE",
                value=metrics.get("test_mae"),
                baseline=metrics.get("baseline_mae"),
                published=QM9_PUBLISHED.get((group, target), ""),
            )
        row.update(num_params=metrics.get("num_params"), train_seconds=metrics.get("train_seconds"))
        rows.append(row)
    return sorted(rows, key=lambda r: (r["experiment"], str(r["target"]), r["group"], r["seed"] or 0))


def write_rows(rows: list[dict[str, object]], out: Path, digits: int = 4) -> list[Path]:
    """``rows`` (same keys, in column order) as a markdown table and a CSV at ``out`` + .md / .csv; returns the paths."""
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0])
    fmt = lambda v: f"{v:.{digits}g}" if isinstance(v, float) else str(v)  # noqa: E731
    md = out.with_suffix(".md")
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(fmt(row[c]) for c in columns) + " |" for row in rows]
    md.write_text("\n".join(lines) + "\n")
    csv_path = out.with_suffix(".csv")
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return [md, csv_path]


def write_lieconv_table(folders: list[Path], out: Path) -> list[Path]:
    """Markdown and CSV tables at ``out`` + .md / .csv; returns the paths."""
    return write_rows(table_rows(collect_runs(folders)), out)
