"""The LieResNet on images (RotMNIST): a fixed lifted pixel grid with fixed farthest-point queries."""

from __future__ import annotations

from dataclasses import replace

import torch

from lconv_cli.groups.point_groups import PointGroup
from lconv_cli.models.lieconv.points import LiftedPoints
from lconv_cli.models.lieconv.resnet import LieResNet
from lconv_cli.models.point_sampling import farthest_point_indices


def image_grid(height: int, width: int, crop_radius: float = 15.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres on linspace(−h/2, h/2, h) × linspace(−w/2, w/2, w) (row, column), cropped to
    ‖x‖ < crop_radius: (coords (P, 2), pixel mask (h, w)). 28 × 28 with radius 15 keeps 648 pixels."""
    i = torch.linspace(-height / 2, height / 2, height)
    j = torch.linspace(-width / 2, width / 2, width)
    grid = torch.stack(torch.meshgrid(i, j, indexing="ij"), -1)
    keep = grid.norm(dim=-1) < crop_radius
    return grid[keep], keep


class ImageLieResNet(LieResNet):
    """LieResNet on images: pixels inside a disc are the points, intensities the values.

    The lifted grid is fixed (lifted once from a seeded RNG, as the official cached lift),
    and farthest-point subsampling of a fixed grid gives fixed queries, so both are buffers computed
    at construction. Channels grow as k / ds^{i/2} and fills as fill / ds^i (ds = total_ds^{1/L}).
    ``shared_neighbourhoods``: draw one neighbourhood sample per batch rather than one per image
    (cheaper; the official layer draws per image).
    """

    def __init__(
        self,
        group: PointGroup,
        *,
        image_size: int = 28,
        c_in: int = 1,
        num_classes: int = 10,
        k: int = 128,
        num_layers: int = 6,
        total_ds: float = 0.1,
        fill: float = 0.1,
        nbhd: int = 25,
        liftsamples: int = 1,
        knn: bool = False,
        bn: bool = True,
        crop_radius: float = 15.0,
        lift_seed: int = 0,
        shared_neighbourhoods: bool = True,
    ) -> None:
        ds = total_ds ** (1 / num_layers)
        channels = [int(k / ds ** (i / 2)) for i in range(num_layers + 1)]
        fills = [fill / ds**i for i in range(num_layers)]
        super().__init__(
            c_in,
            num_classes,
            group,
            channels,
            fills=fills,
            nbhd=nbhd,
            ds_frac=ds,
            bn=bn,
            liftsamples=liftsamples,
            knn=knn,
        )
        self.shared_neighbourhoods = shared_neighbourhoods
        coords, keep = image_grid(image_size, image_size, crop_radius)
        self.register_buffer("pixel_mask", keep, persistent=False)
        rng = torch.Generator().manual_seed(lift_seed)
        uniform = torch.rand(1, len(coords), self.liftsamples, group.lift_noise_dim, generator=rng)
        elems, orbits = group.lift(coords[None], self.liftsamples, uniform)
        self.register_buffer("grid_elems", elems.flatten(1, 2), persistent=False)
        self.register_buffer("grid_orbits", orbits.flatten(1, 2), persistent=False)
        self.register_buffer("grid_mask", torch.ones(1, self.grid_elems.shape[1], dtype=torch.bool), persistent=False)
        self._query_buffers(lift_seed + 1)

    @torch.no_grad()
    def _query_buffers(self, seed: int) -> None:
        """Farthest-point queries of every block on the fixed grid, stored as buffers."""
        points = LiftedPoints(self.grid_elems, self.grid_orbits, self.grid_mask, self.grid_elems.new_zeros(0, 1), 1)
        self.point_counts = [points.mask.shape[1]]
        for i, block in enumerate(self.blocks):
            conv = block.conv
            counts = torch.round(points.mask.sum(-1) * conv.ds_frac).long().clamp_min(1)
            index, chosen = farthest_point_indices(
                self.group, points.elems, points.orbits, points.mask, counts, seed + i
            )
            self.register_buffer(f"queries_{i}", index, persistent=False)
            points = points.select(index, chosen)
            self.point_counts.append(int(chosen.sum()))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, c, h, w) → logits (B, num_classes)."""
        batch = images.shape[0]
        values = images.permute(0, 2, 3, 1)[:, self.pixel_mask].repeat_interleave(self.liftsamples, 1)
        points = LiftedPoints(
            self.grid_elems,
            self.grid_orbits,
            self.grid_mask,
            values.flatten(0, 1),
            batch,
            per_set_draws=not self.shared_neighbourhoods,
        )
        points = replace(points, values=self.embed(points.values))
        for i, block in enumerate(self.blocks):
            index = getattr(self, f"queries_{i}")
            points = block(points, (index, torch.ones_like(index, dtype=torch.bool)))
        return self.pool(points)
