"""Symmetry discovery from labelled data with a known answer: y = f(invariant) for several invariants.

    python benchmarks/algebra_from_data.py [--rows 2000] [--seeds 0] [--out DIR]

For each case a seeded data set is written as ``<case>.npz`` (x Gaussian, y a smooth function of
the invariant), then ``lconv run experiment=algebra_discovery data=file data.path=<case>.npz
data.truth=<spec> seed=<seed>`` fits y(x) and looks for the algebra that keeps the fit, over all of
gl(n). The table gives the fit's held-out R², the dimension found, the similarity to the true
algebra, the closure error, the name and the wall seconds of the whole command.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from algebra_cli import timed_discovery
from rich.console import Console
from rich.table import Table


def _form(x: np.ndarray, signs: list[float]) -> np.ndarray:
    return (x * x * np.array(signs)).sum(1)


# truth spec: (label, coordinates per vector, copies, y(x))
CASES = {
    "so3": ("rotations of R³", 3, 1, lambda x: np.exp(-_form(x, [1, 1, 1]) / 4)),
    "so4": ("rotations of R⁴", 4, 1, lambda x: np.cos(_form(x, [1, 1, 1, 1]) / 4)),
    "so2_1": ("x² + y² − z²", 3, 1, lambda x: np.sin(_form(x, [1, 1, -1]) / 3)),
    "so1_3": ("invariant mass of a four-vector", 4, 1, lambda x: np.sin(_form(x, [1, -1, -1, -1]) / 3)),
    "so2_2": ("a² + b² − c² − d²", 4, 1, lambda x: np.tanh(_form(x, [1, 1, -1, -1]) / 4)),
    "sl2": ("area of two 2-vectors", 2, 2, lambda x: np.sin(x[:, 0] * x[:, 3] - x[:, 1] * x[:, 2])),
}


def run_case(spec: str, rows: int, seed: int, out: Path) -> dict:
    label, n, copies, target = CASES[spec]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, n * copies))
    path = out / f"{spec}-seed{seed}.npz"
    np.savez(path, x=x, y=target(x))
    run_dir = out / f"{spec}-seed{seed}"
    overrides = ["data=file", f"data.path={path}", f"data.truth={spec}", f"data.input_dim={n}"]
    overrides += [f"data.copies={copies}", f"seed={seed}"]
    wall, metrics, found = timed_discovery(overrides, run_dir, spec)
    return {
        "case": f"{label} ({spec})",
        "seed": seed,
        "wall": wall,
        "m": metrics,
        "name": found["name"] if found else "—",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated truth specs from CASES")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="algebra_from_data-"))
    out.mkdir(parents=True, exist_ok=True)
    results = [
        run_case(spec, args.rows, int(seed), out) for spec in args.cases.split(",") for seed in args.seeds.split(",")
    ]
    table = Table(title=f"Symmetry of labelled data ({args.rows} rows, 20 % held out), one `lconv run` per row")
    for column in ("case", "seed", "fit R² (test)", "dim found / true", "similarity", "closure", "name", "wall s"):
        table.add_column(column)
    for r in results:
        m = r["m"]
        table.add_row(
            r["case"],
            str(r["seed"]),
            f"{m['fit_r2_test']:.4f}",
            f"{m['discovered_dim']} / {m['true_dim']}",
            f"{m['subspace_similarity']:.6f}" if m["subspace_similarity"] is not None else "—",
            f"{m['closure_error']:.1e}" if m["closure_error"] is not None else "—",
            r["name"],
            f"{r['wall']:.1f}",
        )
    Console(width=200).print(table)
    print(f"records: {out}")


if __name__ == "__main__":
    main()
