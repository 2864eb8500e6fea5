"""Wall time of oracle algebra discovery from the command line: so(3), so(1,3), so(10) (45 generators).

    python benchmarks/algebra_speed.py [--specs so3,so1_3,so10] [--seeds 0] [--out DIR]

Each (spec, seed) is one ``lconv run experiment=algebra_discovery data.algebra=<spec> seed=<seed>``
process, timed from start to exit (Python and torch start-up included), alone on the machine. The
table gives the wall seconds, the training and polish seconds the run recorded, and what was found:
dimension, similarity to the true algebra, closure error and name. Forestano et al. (2023) report
31 s for so(3), 126 s for so(1,3) and 790 s for so(10) with their oracle method.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from algebra_cli import timed_discovery
from rich.console import Console
from rich.table import Table

FORESTANO_SECONDS = {"so3": 31.0, "so1_3": 126.0, "so10": 790.0}


def run_one(spec: str, seed: int, out: Path) -> dict:
    """One CLI run; its metrics, its algebra record and the measured wall seconds."""
    run_dir = out / f"{spec}-seed{seed}"
    wall, metrics, found = timed_discovery([f"data.algebra={spec}", f"seed={seed}"], run_dir, f"{spec} seed {seed}")
    return {"spec": spec, "seed": seed, "wall": wall, "metrics": metrics, "name": (found or {}).get("name")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default="so3,so1_3,so10")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--out", default=None, help="run directories (default: a temporary folder)")
    args = parser.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="algebra_speed-"))
    rows = [run_one(spec, int(seed), out) for spec in args.specs.split(",") for seed in args.seeds.split(",")]
    table = Table(title="Oracle algebra discovery, one `lconv run` per row (wall seconds include start-up)")
    for column in (
        "spec",
        "seed",
        "wall s",
        "train s",
        "polish s",
        "Forestano s",
        "dim",
        "similarity",
        "closure",
        "name",
    ):
        table.add_column(column)
    for row in rows:
        m = row["metrics"]
        table.add_row(
            row["spec"],
            str(row["seed"]),
            f"{row['wall']:.1f}",
            f"{m['train_seconds']:.1f}",
            f"{m['polish_seconds']:.2f}",
            f"{FORESTANO_SECONDS.get(row['spec'], float('nan')):.0f}",
            str(m["discovered_dim"]),
            f"{m['subspace_similarity']:.6f}" if m["subspace_similarity"] is not None else "—",
            f"{m['closure_error']:.1e}" if m["closure_error"] is not None else "—",
            str(row["name"]),
        )
    Console(width=200).print(table)
    print(f"records: {out}")


if __name__ == "__main__":
    main()
