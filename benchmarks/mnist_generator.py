"""The rotation generator learned from pairs of real MNIST digits in pixel space (issue 21, point 1).

    python benchmarks/mnist_generator.py [--pairs 60000] [--max-angle-deg 0.5] [--resample sw] [--scrambled] [--seed 0]

Pairs (f, T(θ) f) of the 28×28 MNIST training digits (``$LCONV_DATA``), θ ~ U(±max angle), T the
exact SW rotation exp(θ L_SW) (``--resample sw``, :func:`lconv_cli.lie.expm.antisymmetric_expm_action`)
or ordinary ``bilinear`` / ``bicubic`` resampling (``grid_sample``, border padding); ``--scrambled``
applies one seeded pixel permutation to every image of both sides (the truth becomes P L_SW Pᵀ). The generator is fitted in
closed form as an antisymmetric matrix (:func:`lconv_cli.lie.fitting.antisymmetric_generator`).
Prints |cos| to the true generator and the fit's seconds (pair making excluded).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch

from lconv_cli.data.image_variants import load_image_dataset, pixel_permutation, rotate_images
from lconv_cli.lie import generator_cos, rotation_generator_2d
from lconv_cli.lie.expm import antisymmetric_expm_action
from lconv_cli.lie.fitting import antisymmetric_generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=60_000)
    parser.add_argument("--max-angle-deg", type=float, default=0.5)
    parser.add_argument("--resample", choices=("sw", "bilinear", "bicubic"), default="sw")
    parser.add_argument("--scrambled", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rel-eps", type=float, default=1e-12)
    args = parser.parse_args()
    root = os.environ.get("LCONV_DATA")
    if not root:
        raise SystemExit("set LCONV_DATA to the folder holding MNIST")
    images, _ = load_image_dataset("mnist", root, train=True)
    f = images[: args.pairs, 0].reshape(min(args.pairs, len(images)), -1).to(torch.float64) / 255
    truth = rotation_generator_2d(28)
    rng = torch.Generator().manual_seed(args.seed)
    theta = (2 * torch.rand(len(f), generator=rng, dtype=torch.float64) - 1) * math.radians(args.max_angle_deg)
    if args.resample == "sw":
        g = antisymmetric_expm_action(truth, theta, f)
    else:  # grid_sample turns counter-clockwise for a positive angle, L_SW clockwise: −θ matches the sign
        images = f.reshape(-1, 1, 28, 28)
        g = rotate_images(images, -torch.rad2deg(theta), args.resample).reshape(len(f), -1)
    if args.scrambled:
        permutation = pixel_permutation(f.shape[1], rng)
        f, g, truth = f[:, permutation], g[:, permutation], truth[permutation][:, permutation]
    never_lit = ~(f > 0).any(0)
    start = time.perf_counter()
    fitted = antisymmetric_generator(f, theta, g, rel_eps=args.rel_eps)
    seconds = time.perf_counter() - start
    share = float(truth[:, never_lit].pow(2).sum() / truth.pow(2).sum())
    label = "scrambled " if args.scrambled else ""
    print(
        f"{label}MNIST, {len(f):,} {args.resample} pairs, θ ~ U(±{args.max_angle_deg:g}°), seed {args.seed}: "
        f"|cos(L, L_SW)| {generator_cos(fitted, truth):.5f} in {seconds:.1f} s "
        f"({int(never_lit.sum())} pixels never lit, {100 * share:.1f} % of ‖L_SW‖² in their columns)"
    )


if __name__ == "__main__":
    main()
