"""Generators of transformations of real MNIST images, discovered in pixel space: one table (issue 21, point 1).

    python benchmarks/image_generators_table.py [--rows all|sw] [--dataset mnist] [--out DIR]

Each row is ``lconv run experiment=image_generators scale=paper`` (60,000 training pairs, 2,000 held-out
test pairs) with the overrides shown: rotation alone and tx, ty, rotation, scale at once; exact SW pairs
in natural and scrambled pixel order, from digits rolled by up to ±4 pixels (the default) or as stored
(centred), and bilinear / bicubic resampled pairs. Columns: |cos| of each
generator to the true (permuted) SW generator, the subspace similarity of the span (mean cos² of the
principal angles), the held-out relative residual (and the true generators' own, the resampling's
misfit), and the seconds of making the pairs and of the fit. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from algebra_cli import timed_discovery

FOUR = "data.transforms=[tx,ty,rotation,scale]"
ROWS = {  # label: overrides (the default inputs are rolled by up to ±4 pixels: data.base_shift=4)
    "rotation, SW": ["data.transforms=[rotation]"],
    "rotation, SW, centred digits": ["data.transforms=[rotation]", "data.base_shift=0"],
    "rotation, SW, scrambled": ["data.transforms=[rotation]", "data.scrambled=true"],
    "rotation, bilinear": ["data.transforms=[rotation]", "data.resample=bilinear"],
    "rotation, bicubic": ["data.transforms=[rotation]", "data.resample=bicubic"],
    "4 generators, SW": [FOUR],
    "4 generators, SW, centred digits": [FOUR, "data.base_shift=0"],
    "4 generators, SW, scrambled": [FOUR, "data.scrambled=true"],
    "4 generators, bilinear": [FOUR, "data.resample=bilinear"],
    "4 generators, bicubic": [FOUR, "data.resample=bicubic"],
}
NAMES = ("tx", "ty", "rotation", "scale")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", choices=("all", "sw"), default="all", help="sw: the SW rows only")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="image_generators_"))
    rows = {label: o for label, o in ROWS.items() if args.rows == "all" or "SW" in label}
    lines = [
        "| pairs | "
        + " | ".join(f"cos {n}" for n in NAMES)
        + " | subspace | test residual (truth's) | pairs s | fit s |",
        "| --- | " + " | ".join("---:" for _ in NAMES) + " | ---: | ---: | ---: | ---: |",
    ]
    for index, (label, overrides) in enumerate(rows.items()):
        run_dir = out / f"row{index}"
        _, m, _ = timed_discovery(
            [f"dataset={args.dataset}", "scale=paper", *overrides], run_dir, label, "image_generators"
        )
        cosines = [f"{m[f'cos_{n}']:.5f}" if f"cos_{n}" in m else "" for n in NAMES]
        line = (
            f"| {label} | " + " | ".join(cosines) + f" | {m['subspace_similarity']:.4f} | "
            f"{m['test_residual']:.4f} ({m['truth_test_residual']:.4f}) | {m['pairs_seconds']:.0f} | {m['fit_seconds']:.0f} |"
        )
        print(line, flush=True)
        lines.append(line)
    print(f"\n{args.dataset}, {out}\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
