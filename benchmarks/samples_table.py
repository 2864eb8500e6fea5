"""Symmetry from unlabelled samples: the density method against the LieGAN baseline, one table.

    python benchmarks/samples_table.py [--seeds 0,1,2] [--methods density_symmetry,liegan] [--num-train N] [--out DIR]

For each distribution (sphere → so(3), lorentz → so(1,3), bent → a cubic non-affine field) and
method, ``lconv run experiment=symmetry_from_samples data.distribution=<d> model=<method>
seed=<seed>`` on the same seeded samples (50,000 train, 10,000 test). The table gives the
similarity to the true symmetry (mean and worst over seeds), the dimension found per seed (LieGAN is
given the true one), how many runs named the algebra right, and the method's seconds (fit and
discovery, without start-up; mean). Run it alone on the machine: the seconds are wall time.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from algebra_cli import timed_discovery
from rich.console import Console
from rich.table import Table

DISTRIBUTIONS = {"sphere": "so(3)", "lorentz": "so(1,3)", "bent": "cubic field (non-affine)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="density_symmetry,liegan")
    parser.add_argument("--distributions", default=",".join(DISTRIBUTIONS))
    parser.add_argument("--num-train", type=int, default=None, help="training samples (default: the config's 50,000)")
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    out = args.out or Path(tempfile.mkdtemp(prefix="samples_table_"))
    samples = f"{args.num_train:,}" if args.num_train else "50,000"
    table = Table(title=f"symmetry from unlabelled samples ({samples} train samples, the same data per seed)")
    for column in (
        "distribution",
        "truth",
        "method",
        "similarity mean",
        "similarity worst",
        "dim found",
        "named",
        "seconds",
    ):
        table.add_column(column)
    for distribution in args.distributions.split(","):
        for method in args.methods.split(","):
            rows = []
            for seed in seeds:
                run_dir = out / f"{distribution}-{method}-{seed}"
                overrides = [f"data.distribution={distribution}", f"model={method}", f"seed={seed}"]
                overrides += [f"data.num_train={args.num_train}"] if args.num_train else []
                _, metrics, _ = timed_discovery(overrides, run_dir, run_dir.name, "symmetry_from_samples")
                rows.append(metrics)
                print(
                    f"{run_dir.name}: similarity {metrics['subspace_similarity']:.6f}, dim {metrics['discovered_dim']},"
                    f" named {metrics['name_correct']}, {metrics['seconds']:.1f} s",
                    flush=True,
                )
            similarity = [m["subspace_similarity"] for m in rows]
            given = " (given)" if method == "liegan" else ""
            table.add_row(
                distribution,
                f"{DISTRIBUTIONS[distribution]}, dim {int(rows[0]['true_dim'])}",
                method,
                f"{sum(similarity) / len(similarity):.6f}",
                f"{min(similarity):.6f}",
                ",".join(str(int(m["discovered_dim"])) for m in rows) + given,
                f"{int(sum(m['name_correct'] for m in rows))}/{len(rows)}",
                f"{sum(m['seconds'] for m in rows) / len(rows):.1f}",
            )
    Console(width=170).print(table)
    print(f"runs: {out}")


if __name__ == "__main__":
    main()
