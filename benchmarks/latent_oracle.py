"""How well can α-matching recover a generator when the true t is given? (latent_symmetry ceiling)

For each transformation family and task, solves the first-order α-matching problem
min_α Σ_n ‖xt_n − x0_n − t_n G_α x0_n‖² in closed form with the TRUE parameters t_n (the normal
equations (Σ t² BᵀB) α = Σ t Bᵀ(xt − x0), B_n = [D_k x0_n]_k in the 6-field affine basis) and prints
|cos| to the true α. It isolates the pixel-space term from the t-network: for same_image pairs
it is the ceiling of first-order matching; for different_image pairs it shows how much the other
image's shape alone biases α even with t known.

    LCONV_DATA=../shared/data python benchmarks/latent_oracle.py [--pairs 5000] [--dataset mnist]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from lconv_cli.data.image_variants import load_image_dataset
from lconv_cli.data.symmetry_pairs import make_symmetry_pairs, to_grey
from lconv_cli.lie import coefficient_cos, field_vector
from lconv_cli.models.latent_flow import PixelFieldAction

FAMILIES = {
    "rotation": ("rotation", 0.6),
    "scale": ("scaling", 0.3),
    "tx": ("translation_x", 0.3),
    "ty": ("translation_y", 0.3),
}


def oracle_cos(x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, true_alpha: torch.Tensor) -> float:
    """|cos| between the true α and the first-order least-squares α given the true t (float64)."""
    action = PixelFieldAction(round(x0.shape[1] ** 0.5), "affine").double()
    x0, xt, t = x0.double(), xt.double(), t.double()
    eye = torch.eye(6, dtype=torch.float64)
    basis_images = torch.stack([action(eye[k], x0) for k in range(6)], -1)  # (N, n², 6)
    lhs = torch.einsum("n,npk,npl->kl", t**2, basis_images, basis_images)
    rhs = torch.einsum("n,npk,np->k", t, basis_images, xt - x0)
    return coefficient_cos(torch.linalg.solve(lhs, rhs), true_alpha)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--root", default=os.environ.get("LCONV_DATA", "data"))
    args = parser.parse_args()
    images, labels = load_image_dataset(args.dataset, args.root, train=True)
    keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[: args.pairs]
    grey, labels = to_grey(images[keep]), labels[keep]
    print(f"{args.dataset}, {len(grey)} pairs, uniform t, bilinear; |cos| of the first-order α with the true t")
    print("| family | range | same_image | different_image |\n| --- | --- | ---: | ---: |")
    for name, (field, bound) in FAMILIES.items():
        started = time.perf_counter()
        scores = []
        for task in ("same_image", "different_image"):
            pairs, _, _ = make_symmetry_pairs(
                grey,
                labels,
                field_vector({field: 1.0}),
                "uniform",
                -bound,
                bound,
                task,
                torch.Generator().manual_seed(1),
            )
            scores.append(oracle_cos(pairs.x0, pairs.xt, pairs.t, field_vector({field: 1.0}, "affine")))
        print(f"| {name} | ±{bound} | {scores[0]:.4f} | {scores[1]:.4f} |  ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
