"""Equivariance of LieResNets for every group, in float32 and eval mode, and exp/log round trips in float64.

    python benchmarks/lieconv_equivariance.py [--seeds 3]

For each group a LieResNet (4 bottleneck blocks of 64 channels, nbhd 25, farthest-point
subsampling 0.7, trained for a few steps so batch-norm statistics and radii are not at their
initial values) sees 4 random point clouds of 60 points (one padded to 45), and the same clouds
moved by a random group element. Reported, as max over seeds of ‖f(g·x) − f(x)‖ / ‖f(x)‖:

- **input**: g applied to the points. Exact for groups whose lift is deterministic (Trivial, T(d),
  SO(2), R*×SO(2)); for SE(2), SO(3), SE(3) the lift draws stabiliser samples, and lift(g·x) equals
  g·lift(x) only in distribution, so the figure is the spread of a finite-sample estimate.
- **lifted**: g applied to the lifted elements (left multiplication): what the architecture
  guarantees for every group.
- **control**: a transformation outside the group (rotation for T(d) and Trivial, translation for
  the origin-fixing SO(2), R*×SO(2), SO(3), scaling for SE(2), SE(3)), to show the check can fail.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch
from rich.console import Console
from rich.table import Table

from lconv_cli.groups.lie_groups import se2_exp, se2_log, se3_exp, se3_log, so3_exp, so3_log
from lconv_cli.groups.point_groups import make_group
from lconv_cli.models.lieconv import LieResNet

GROUPS = [
    ("Trivial", 2, 1),
    ("T2", 2, 1),
    ("SO2", 2, 1),
    ("RxSO2", 2, 1),
    ("SE2", 2, 2),
    ("Trivial", 3, 1),
    ("T3", 3, 1),
    ("SO3", 3, 4),
    ("SE3", 3, 4),
]


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def rotate(x: torch.Tensor, dim: int) -> torch.Tensor:
    group = make_group("SO2" if dim == 2 else "SO3", dim)
    return group.act_on_points(group.random_element(torch.Generator().manual_seed(5), torch.float32), x)


def measure(name: str, dim: int, liftsamples: int, seed: int) -> tuple[float, float, float]:
    torch.manual_seed(seed)
    group = make_group(name, dim)
    net = LieResNet(4, 3, group, [64] * 5, fills=[0.3] * 4, nbhd=25, ds_frac=0.7, liftsamples=liftsamples)
    g = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(4, 60, dim, generator=g)
    v = torch.randn(4, 60, 4, generator=g)
    mask = torch.ones(4, 60, dtype=torch.bool)
    mask[1, 45:] = False
    for _ in range(5):
        net(x, v, mask).sum().backward()
    net.eval()
    with torch.no_grad():
        element = group.random_element(g, torch.float32)
        out = net(x, v, mask)
        moved_input = net(group.act_on_points(element, x), v, mask)
        lifted = net.lift(x, v, mask)
        moved_lifted = net.forward_lifted(replace(lifted, elems=group.act_on_elements(element, lifted.elems)))
        other = (
            rotate(x, dim)
            if name.startswith(("T", "Trivial"))
            else (x + 0.7 if name in ("SO2", "SO3", "RxSO2") else 1.3 * x)
        )
        return relative(moved_input, out), relative(moved_lifted, out), relative(net(other, v, mask), out)


def round_trips(count: int = 100_000) -> dict[str, float]:
    """max |log(exp(ξ)) − ξ| over random ξ (angles in [0, π), translations ~ N(0, 3²)), float64."""
    g = torch.Generator().manual_seed(0)
    axis = torch.nn.functional.normalize(torch.randn(count, 3, generator=g, dtype=torch.float64), dim=-1)
    omega = axis * (torch.rand(count, 1, generator=g, dtype=torch.float64) * torch.pi)
    xi3 = torch.cat([omega, 3 * torch.randn(count, 3, generator=g, dtype=torch.float64)], -1)
    xi2 = torch.cat(
        [
            (torch.rand(count, 1, generator=g, dtype=torch.float64) * 2 - 1) * torch.pi,
            3 * torch.randn(count, 2, generator=g, dtype=torch.float64),
        ],
        -1,
    )
    return {
        "SO3": float((so3_log(so3_exp(omega)) - omega).abs().max()),
        "SE2": float((se2_log(se2_exp(xi2)) - xi2).abs().max()),
        "SE3": float((se3_log(se3_exp(xi3)) - xi3).abs().max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    table = Table(
        title=f"LieResNet equivariance, float32, eval mode: max relative output change over {args.seeds} seeds"
    )
    for column in ("group", "liftsamples", "input g·x", "lifted g·u", "control (not in the group)"):
        table.add_column(column)
    for name, dim, samples in GROUPS:
        results = [measure(name, dim, samples, seed) for seed in range(args.seeds)]
        worst = [max(r[i] for r in results) for i in range(3)]
        least_control = min(r[2] for r in results)
        table.add_row(
            f"{name}({dim})" if name == "Trivial" else name,
            str(samples),
            f"{worst[0]:.1e}",
            f"{worst[1]:.1e}",
            f"{least_control:.1e} (min)",
        )
    Console().print(table)
    trips = round_trips()
    Console().print(
        "exp/log round trip, float64, max |log(exp ξ) − ξ| over 100,000 draws: "
        + ", ".join(f"{k} {v:.1e}" for k, v in trips.items())
    )


if __name__ == "__main__":
    main()
