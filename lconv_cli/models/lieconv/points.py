"""Lifted point sets as they travel between LieConv layers, and the pair table shared by the layers."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from lconv_cli.groups.point_groups import PointGroup
from lconv_cli.models.point_sampling import gather_points


def exact_geometry(device: torch.device) -> torch.autocast:
    """Autocast off: lifts, group distances and pair coordinates are computed in the points' own dtype
    even inside a mixed-precision (``trainer.precision=bf16-mixed``) forward."""
    return torch.autocast(device.type, enabled=False)


def pad_rows(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Packed (P, C) rows of the True entries of ``mask`` (B, N) → (B, N, C) with zeros elsewhere
    (a view when nothing is padded)."""
    if values.shape[0] == mask.numel():
        return values.view(*mask.shape, values.shape[-1])
    return values.new_zeros(*mask.shape, values.shape[-1]).index_put((mask,), values)


@dataclass
class PairTable:
    """Every pair of a lifted set with itself, computed once per forward and shared by the layers that
    keep all points as queries (no subsampling: molecules, springs), as the official ``abq`` tensor:
    ``distance`` (B, N, N) group distances (no gradient) and ``pair`` (B, N, N, kernel_dim) kernel inputs."""

    distance: torch.Tensor
    pair: torch.Tensor

    @classmethod
    def of(cls, group: PointGroup, elems: torch.Tensor, orbits: torch.Tensor) -> PairTable:
        u, v, qu, qv = elems[:, :, None], elems[:, None], orbits[:, :, None], orbits[:, None]
        with torch.no_grad():
            distance = group.distance(u, v, qu, qv)
        return cls(distance, group.kernel_input(u, v, qu, qv))


@dataclass
class LiftedPoints:
    """A batch of B lifted point sets.

    elems (B|1, N, E), orbits (B|1, N, Q), mask (B|1, N) bool: the structure (batch 1 when shared);
    values (P, C): the features of the valid points, row-major over ``value_mask()`` (P = its sum).
    """

    elems: torch.Tensor
    orbits: torch.Tensor
    mask: torch.Tensor
    values: torch.Tensor
    batch: int
    pairs: PairTable | None = None  # of this structure with itself, when the network shares one
    per_set_draws: bool = False  # a shared (batch-1) structure whose B sets draw their own neighbours

    def select(self, index: torch.Tensor, chosen: torch.Tensor) -> LiftedPoints:
        """The structure at ``index`` (B|1, M), ``chosen`` (B|1, M) masking unused slots (values kept as they are)."""
        return replace(
            self,
            elems=gather_points(self.elems, index),
            orbits=gather_points(self.orbits, index),
            mask=gather_points(self.mask, index) & chosen,
            pairs=None,
        )

    def value_mask(self) -> torch.Tensor:
        """(B, N) mask of the rows in ``values``."""
        return self.mask.expand(self.batch, -1)

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """Row numbers in ``values`` of the points at ``index`` (B|1, M) → (B, M) (−1 where not a valid point)."""
        mask = self.value_mask()
        row = torch.cumsum(mask.flatten(), 0).view(mask.shape) - 1
        return torch.where(mask, row, -1).gather(1, index.expand(self.batch, -1))
