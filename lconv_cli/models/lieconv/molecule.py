"""The LieResNet on molecules (QM9)."""

from __future__ import annotations

import torch

from lconv_cli.groups.point_groups import PointGroup
from lconv_cli.models.lieconv.resnet import LieResNet


class MoleculeLieResNet(LieResNet):
    """LieResNet for molecules: atoms are points (positions in Å), features one-hot(H, C, N, O, F) ⊗
    [1, Z/9, (Z/9)²] (15 channels), one scalar output per molecule."""

    def __init__(
        self,
        group: PointGroup,
        *,
        k: int = 1536,
        num_layers: int = 6,
        nbhd: int = 100,
        fill: float = 1.0,
        liftsamples: int = 1,
        knn: bool = False,
        bn: bool = True,
        num_species: int = 5,
        charge_power: int = 2,
        recompute: bool = True,
    ) -> None:
        super().__init__(
            num_species * (charge_power + 1),
            1,
            group,
            [k] * (num_layers + 1),
            fills=[fill] * num_layers,
            nbhd=nbhd,
            ds_frac=1.0,
            bn=bn,
            liftsamples=liftsamples,
            knn=knn,
            recompute=recompute,
        )

    def forward(self, positions: torch.Tensor, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """positions (B, n, 3), features (B, n, 15), mask (B, n) → (B,)."""
        return super().forward(positions, features, mask)[:, 0]
