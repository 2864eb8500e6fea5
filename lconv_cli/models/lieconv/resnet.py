"""The bottleneck block and the LieResNet: lift, blocks, pooled head."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from lconv_cli.groups.point_groups import PointGroup
from lconv_cli.models.lieconv.batchnorm import MaskBatchNorm, norm_swish
from lconv_cli.models.lieconv.conv import LieConv
from lconv_cli.models.lieconv.points import LiftedPoints, PairTable, exact_geometry
from lconv_cli.models.point_sampling import uniform_noise

PAIR_TABLE_MAX = 1 << 21  # largest B·N² for which the pair table is built (SE(3) QM9 batches: ~1M)


class BottleBlock(nn.Module):
    """Pre-activation bottleneck: BN, Swish, Linear(c_in → c_in/4), BN, Swish, LieConv(c_in/4 → c_out/4),
    BN, Swish, Linear(→ c_out); the (subsampled) input is added to the first c_in channels."""

    def __init__(self, c_in: int, c_out: int, conv: LieConv, bn: bool = True) -> None:
        super().__init__()
        if c_in > c_out:
            raise ValueError(f"BottleBlock needs c_in ≤ c_out, got {c_in} > {c_out}")
        self.c_in = c_in
        self.norms = nn.ModuleList(MaskBatchNorm(c) for c in (c_in, c_in // 4, c_out // 4)) if bn else None
        self.down = nn.Linear(c_in, c_in // 4)
        self.conv = conv
        self.up = nn.Linear(c_out // 4, c_out)

    def _act(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return norm_swish(self.norms[i] if self.norms is not None else None, x)

    def forward(self, points: LiftedPoints, queries: tuple[torch.Tensor, torch.Tensor] | None = None) -> LiftedPoints:
        """``queries``: precomputed (index, chosen) of the conv's subsampling, or None to compute them."""
        if queries is None:
            queries = self.conv.query_indices(points)
        x = self._act(1, self.down(self._act(0, points.values)))
        out = self.conv(replace(points, values=x), queries)
        y = self.up(self._act(2, out.values))
        residual = points.values
        if queries is not None:
            rows = points.rows(queries[0])[out.value_mask()]
            residual = residual[rows]
        y = torch.cat([y[:, : self.c_in] + residual, y[:, self.c_in :]], -1)
        return replace(out, values=y)


class LieResNet(nn.Module):
    """Lift → Linear(c_in → k₀) → BottleBlocks → BN → Swish → Linear(→ num_outputs) → masked mean pool.

    Args:
        channels: widths k₀ … k_L (L = number of blocks).
        fills: the neighbourhood fill fraction of each block.
        ds_frac: per-layer farthest-point subsampling fraction.
        liftsamples: stabiliser samples per point.
        recompute: activation checkpointing in the kernel MLPs and convolutions (saves memory on
            large point sets; pure overhead on small ones, e.g. a few bodies).
    """

    def __init__(
        self,
        c_in: int,
        num_outputs: int,
        group: PointGroup,
        channels: list[int],
        *,
        fills: list[float],
        nbhd: int,
        ds_frac: float = 1.0,
        bn: bool = True,
        mean: bool = True,
        liftsamples: int = 1,
        knn: bool = False,
        eval_seed: int = 0,
        recompute: bool = True,
    ) -> None:
        super().__init__()
        self.group, self.liftsamples, self.eval_seed = group, int(liftsamples), eval_seed
        self.embed = nn.Linear(c_in, channels[0])
        self.blocks = nn.ModuleList(
            BottleBlock(
                channels[i],
                channels[i + 1],
                LieConv(
                    channels[i] // 4,
                    channels[i + 1] // 4,
                    group,
                    nbhd=nbhd,
                    ds_frac=ds_frac,
                    fill=fills[i],
                    knn=knn,
                    bn=bn,
                    mean=mean,
                    eval_seed=eval_seed + 1 + i,
                ),
                bn,
            )
            for i in range(len(channels) - 1)
        )
        self.final_norm = MaskBatchNorm(channels[-1]) if bn else None
        self.head = nn.Linear(channels[-1], num_outputs)
        for block in self.blocks:
            block.conv.recompute = block.conv.kernel.recompute = recompute

    def lift(self, coords: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> LiftedPoints:
        """coords (B, n, d), values (B, n, c), mask (B, n) → LiftedPoints with n·liftsamples points."""
        s = self.liftsamples
        uniform = uniform_noise(
            (*coords.shape[:-1], s, self.group.lift_noise_dim), None if self.training else self.eval_seed, coords.device
        )
        with exact_geometry(coords.device):
            elems, orbits = self.group.lift(coords, s, uniform.to(coords.dtype))
        mask = mask.repeat_interleave(s, 1)
        return LiftedPoints(
            elems.flatten(1, 2), orbits.flatten(1, 2), mask, values.repeat_interleave(s, 1)[mask], len(coords)
        )

    def forward_lifted(self, points: LiftedPoints) -> torch.Tensor:
        """(B, num_outputs) from an already lifted set."""
        batch, n = points.mask.shape
        if all(block.conv.ds_frac >= 1 for block in self.blocks) and batch * n * n <= PAIR_TABLE_MAX:
            with exact_geometry(points.elems.device):  # every layer sees the same pairs: compute them once
                points = replace(points, pairs=PairTable.of(self.group, points.elems, points.orbits))
        points = replace(points, values=self.embed(points.values))
        for block in self.blocks:
            points = block(points)
        return self.pool(points)

    def pool(self, points: LiftedPoints) -> torch.Tensor:
        """BN → Swish → Linear on each point, then the mean over valid points: (B, num_outputs)
        (float32 under mixed precision)."""
        x = self.head(norm_swish(self.final_norm, points.values))
        if torch.is_autocast_enabled(x.device.type):
            x = x.float()
        mask = points.value_mask()
        if x.shape[0] == mask.numel():
            return x.view(*mask.shape, -1).mean(1)
        owner = torch.arange(points.batch, device=x.device)[:, None].expand_as(mask)[mask]
        total = x.new_zeros(points.batch, x.shape[-1]).index_add_(0, owner, x)
        return total / mask.sum(1, keepdim=True).clamp_min(1).to(x.dtype)

    def forward(self, coords: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.forward_lifted(self.lift(coords, values, mask))
