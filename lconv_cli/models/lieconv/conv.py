"""One LieConv layer: queries, neighbourhoods, kernel MLP, products and the linear map."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import torch
from torch import nn

from lconv_cli.groups.point_groups import PointGroup
from lconv_cli.models.lieconv.kernel import KernelMLP
from lconv_cli.models.lieconv.points import LiftedPoints, exact_geometry
from lconv_cli.models.lieconv.products import ProductsLinear, convolution_products
from lconv_cli.models.point_sampling import Neighbourhoods, ball_neighbourhoods, farthest_point_indices, gather_points


class LieConv(nn.Module):
    """One LieConv layer, c_in → c_out channels.

    Args:
        group: the ``PointGroup`` whose pair coordinates and distance are used.
        nbhd: neighbours per query (the official ``mc_samples``).
        ds_frac: fraction of each set's valid points kept as queries (farthest-point sampling).
        fill: target fraction of points inside the neighbourhood ball (training adapts the radius).
        knn: use the ``nbhd`` nearest points instead of random draws from the ball.
        mean: divide by the number of valid neighbours (after the linear map, as the official layer).
        eval_seed: seed of the index hash that replaces random draws in eval mode.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        group: PointGroup,
        *,
        nbhd: int = 32,
        ds_frac: float = 1.0,
        fill: float = 1 / 3,
        knn: bool = False,
        bn: bool = True,
        mean: bool = True,
        kernel_width: int = 32,
        kernel_out: int = 16,
        eval_seed: int = 0,
        radius: float = 2.0,
        radius_rate: float = 0.5,
    ) -> None:
        super().__init__()
        self.group, self.nbhd, self.ds_frac, self.fill, self.knn, self.mean = (
            group,
            int(nbhd),
            float(ds_frac),
            float(fill),
            knn,
            mean,
        )
        self.eval_seed, self.radius_rate = eval_seed, radius_rate
        self.kernel = KernelMLP(group.kernel_dim, kernel_out, kernel_width, bn)
        self.linear = nn.Linear(kernel_out * c_in, c_out)
        self.register_buffer("radius", torch.tensor(float(radius)))
        self.recompute = True  # activation checkpointing of the convolution products in training
        self.distinct_pairs = True  # per-set draws on a shared structure: kernel MLP once per distinct pair

    def extra_repr(self) -> str:
        return f"group={self.group}, nbhd={self.nbhd}, ds_frac={self.ds_frac:.4g}, fill={self.fill:.4g}, knn={self.knn}"

    def _seed(self, offset: int) -> int | None:
        return None if self.training else 1000 * self.eval_seed + offset

    def query_indices(self, points: LiftedPoints) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Farthest-point sample of round(ds_frac · n_valid) points per set, or None (no subsampling)."""
        if self.ds_frac >= 1:
            return None
        counts = torch.round(points.mask.sum(-1) * self.ds_frac).long().clamp_min(1)
        with exact_geometry(points.elems.device):
            return farthest_point_indices(self.group, points.elems, points.orbits, points.mask, counts, self._seed(0))

    def forward(self, points: LiftedPoints, queries: tuple[torch.Tensor, torch.Tensor] | None = None) -> LiftedPoints:
        """``queries``: (index, chosen) from ``query_indices`` (computed here when not given)."""
        with exact_geometry(points.elems.device):
            centre, nbhd, pair, repeats = self._neighbourhoods(points, queries)
        shape = nbhd.mask.shape if nbhd.index is not None else pair.shape[:-1]
        if repeats is not None:  # per-set draws on a shared structure: the kernel MLP runs once per distinct pair
            inverse, counts = repeats
            rows = self.kernel(pair, weights=counts)[inverse]
            kernel = rows.new_zeros(*shape, rows.shape[-1]).index_put((nbhd.mask,), rows)
        elif bool(nbhd.mask.all()):
            kernel = self.kernel(pair)
        else:  # the kernel MLP runs on the real (query, neighbour) pairs only; zeros elsewhere
            rows = self.kernel(pair[nbhd.mask.expand(pair.shape[:-1])])
            kernel = rows.new_zeros(*pair.shape[:-1], rows.shape[-1]).index_put(
                (nbhd.mask.expand(pair.shape[:-1]),), rows
            )
        index = nbhd.index
        if index is not None and points.mask.shape[1] * kernel.shape[-1] < index.shape[-1] * points.values.shape[-1]:
            # small sets (e.g. lifted molecules): a dense (M, N) kernel is cheaper than gathering K·C neighbour values
            kernel = kernel.new_zeros(*kernel.shape[:2], points.mask.shape[1], kernel.shape[-1]).scatter_add(
                2, index[..., None].expand_as(kernel), kernel
            )
            index = None
        query_mask = centre.value_mask()
        products = partial(convolution_products, index=index, query_mask=query_mask, point_mask=points.value_mask())
        if self.recompute and torch.is_grad_enabled() and (points.values.requires_grad or kernel.requires_grad):
            # the (rows, H·C) products (and gathered neighbours) are recomputed in backward, not stored
            out = ProductsLinear.apply(points.values, kernel, self.linear.weight, self.linear.bias, products)
        else:
            out = torch.cat([self.linear(chunk) for chunk in products(points.values, kernel)])
        if self.mean:
            count = nbhd.mask.sum(-1).expand(points.batch, -1)
            out = out / count[query_mask].clamp_min(1)[:, None].to(out.dtype)
        return replace(centre, values=out)

    def _neighbourhoods(
        self, points: LiftedPoints, queries: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[LiftedPoints, Neighbourhoods, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """The query points, their neighbourhoods, the pair coordinates (B|1, M, K, kernel_dim) and None; or,
        when B sets draw their own neighbours on one shared structure (images with per-image draws),
        the distinct (query, point) pairs' coordinates (U, kernel_dim) and (inverse, counts): the
        distinct pair of each real neighbour (in ``nbhd.mask`` order) and how often each occurs."""
        if queries is None and self.ds_frac < 1:
            queries = self.query_indices(points)
        centre = points if queries is None else points.select(*queries)
        table = points.pairs if queries is None else None
        structure = (centre.elems, centre.orbits, centre.mask)
        nbhd = ball_neighbourhoods(
            self.group,
            structure,
            (points.elems, points.orbits, points.mask),
            float(self.radius),
            self.nbhd,
            self.knn,
            self._seed(1),
            distances=None if table is None else table.distance,
            draws=points.batch if points.per_set_draws else 1,
        )
        if self.training and not self.knn:
            self.radius += self.radius_rate * (self.fill - nbhd.fill)
        index = nbhd.index
        shared = centre.elems.shape[0] == 1 and points.elems.shape[0] == 1
        if self.distinct_pairs and points.per_set_draws and shared and index is not None and index.shape[0] > 1:
            n = points.elems.shape[1]
            keys = (torch.arange(index.shape[1], device=index.device)[None, :, None] * n + index)[nbhd.mask]
            distinct, inverse, counts = torch.unique(keys, return_inverse=True, return_counts=True)
            q, p = distinct // n, distinct % n
            pair = self.group.kernel_input(
                centre.elems[0, q], points.elems[0, p], centre.orbits[0, q], points.orbits[0, p]
            )
            return centre, nbhd, pair, (inverse, counts)
        if table is not None:
            pair = (
                table.pair
                if index is None
                else table.pair.gather(2, index[..., None].expand(*index.shape, table.pair.shape[-1]))
            )
        elif nbhd.index is None:
            pair = self.group.kernel_input(
                centre.elems[:, :, None], points.elems[:, None], centre.orbits[:, :, None], points.orbits[:, None]
            )
        else:
            other = (
                gather_points(points.elems, nbhd.index.flatten(1)).unflatten(1, nbhd.index.shape[1:]),
                gather_points(points.orbits, nbhd.index.flatten(1)).unflatten(1, nbhd.index.shape[1:]),
            )
            pair = self.group.kernel_input(centre.elems[:, :, None], other[0], centre.orbits[:, :, None], other[1])
        return centre, nbhd, pair, None
