"""LieConv (Finzi et al., ICML 2020): the convolution layer, bottleneck blocks and LieResNet.

A lifted point set travels between layers as ``LiftedPoints``: group elements, orbit ids and a
mask (the *structure*, batch B or 1 when a whole batch shares it, as for an image grid) and
feature ``values`` (B, N, C). A LieConv layer

1. optionally subsamples its queries by farthest-point sampling on the group distance,
2. picks up to ``nbhd`` neighbours per query inside a ball whose radius adapts in training so
   that a ``fill`` fraction of the points falls inside (or the k nearest, ``knn=True``),
3. evaluates a kernel MLP (Linear → masked BN → Swish, three times) on the pair coordinates
   [log(v⁻¹u), q_u, q_v], and
4. applies the PointConv trick: Linear(Σ_v values_v ⊗ h(u, v)) / #neighbours.

Randomness (neighbour draws, the start of farthest-point sampling, lifting) comes from torch's
global generator in training, which the runner seeds. In eval mode it is a fixed hash of the
point indices (``uniform_noise``), so evaluation is deterministic and does not depend on the batch
size or on padding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from lconv_cli.lie.point_groups import PointGroup
from lconv_cli.models.point_sampling import ball_neighbourhoods, farthest_point_indices, gather_points, uniform_noise


@dataclass
class LiftedPoints:
    """elems (B|1, N, E), orbits (B|1, N, Q), mask (B|1, N) bool, values (B, N, C)."""

    elems: torch.Tensor
    orbits: torch.Tensor
    mask: torch.Tensor
    values: torch.Tensor

    def select(self, index: torch.Tensor, chosen: torch.Tensor, values: bool = True) -> "LiftedPoints":
        """The points at ``index`` (B|1, M); ``chosen`` (B|1, M) masks unused slots."""
        return LiftedPoints(
            gather_points(self.elems, index), gather_points(self.orbits, index),
            gather_points(self.mask, index) & chosen, gather_points(self.values, index) if values else self.values,
        )

    def value_mask(self) -> torch.Tensor:
        """(B, N) mask broadcast to the values' batch."""
        return self.mask.expand(self.values.shape[:2])


class MaskBatchNorm(nn.Module):
    """Batch norm over the last (channel) axis using only entries where ``mask`` is True.

    Training: batch mean and biased variance over valid entries; running estimates (unbiased
    variance) with ``momentum``. Eval: the running estimates. Normalisation is torch's
    ``batch_norm`` on the valid rows, x̂ = (x − μ)/√(σ² + eps) (the official layer uses
    √max(σ², eps); they differ only for channels with σ² ≲ eps), so autograd keeps one copy of the
    input instead of the masked intermediates.
    """

    def __init__(self, channels: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (..., C), mask broadcastable to x.shape[:-1] (None: every entry is valid)."""
        norm = lambda rows: nn.functional.batch_norm(  # noqa: E731
            rows, self.running_mean, self.running_var, self.weight, self.bias, self.training, self.momentum, self.eps
        )
        if mask is not None:
            mask = mask.expand(x.shape[:-1])
        if not self.training or mask is None or bool(mask.all()):
            return norm(x.reshape(-1, x.shape[-1])).view(x.shape)
        if not bool(mask.any()):
            return x
        return x.masked_scatter(mask[..., None], norm(x[mask]))


class KernelMLP(nn.Module):
    """The LieConv kernel: (Linear → masked BN → Swish) × 3, in_dim → width → width → out_dim."""

    def __init__(self, in_dim: int, out_dim: int = 16, width: int = 32, bn: bool = True) -> None:
        super().__init__()
        dims = [in_dim, width, width, out_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.norms = nn.ModuleList(MaskBatchNorm(b) for b in dims[1:]) if bn else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for i, linear in enumerate(self.linears):
            x = linear(x)
            if self.norms is not None:
                x = self.norms[i](x, mask)
            x = nn.functional.silu(x)
        return x


def packed(fn, x: torch.Tensor, mask: torch.Tensor):
    """``fn`` applied to the rows x[mask] (mask over x's leading axes, broadcast to them), scattered
    back with zeros at the masked-out rows: padding costs no compute in the wide layers."""
    mask = mask.expand(x.shape[: mask.dim()])
    if bool(mask.all()):
        return fn(x)
    y = fn(x[mask])
    return y.new_zeros(*mask.shape, y.shape[-1]).index_put((mask,), y)


def neighbour_convolve(values: torch.Tensor, index: torch.Tensor | None, kernel: torch.Tensor) -> torch.Tensor:
    """(B, N, C) values and (B|1, M, K, H) masked kernel values → Σ_k values_k ⊗ kernel_k, (B, M, C, H)
    (possibly a strided view); ``index`` (B|1, M, K) picks the neighbours (None: all N points, K = N)."""
    if index is None:
        batch, (m, n, h) = values.shape[0], kernel.shape[1:]
        kernel = kernel.expand(batch, m, n, h).transpose(1, 2).reshape(batch, n, m * h)
        out = (values.transpose(1, 2) @ kernel).view(batch, -1, m, h).transpose(1, 2)  # one (C × N)(N × M·H) product per set
    else:
        neighbours = gather_points(values, index.flatten(1)).unflatten(1, index.shape[1:])  # (B, M, K, C)
        out = neighbours.transpose(-1, -2) @ kernel
    return out


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
        self, c_in: int, c_out: int, group: PointGroup, *, nbhd: int = 32, ds_frac: float = 1.0, fill: float = 1 / 3,
        knn: bool = False, bn: bool = True, mean: bool = True, kernel_width: int = 32, kernel_out: int = 16,
        eval_seed: int = 0, radius: float = 2.0, radius_rate: float = 0.5,
    ) -> None:
        super().__init__()
        self.group, self.nbhd, self.ds_frac, self.fill, self.knn, self.mean = group, int(nbhd), float(ds_frac), float(fill), knn, mean
        self.eval_seed, self.radius_rate = eval_seed, radius_rate
        self.kernel = KernelMLP(group.kernel_dim, kernel_out, kernel_width, bn)
        self.linear = nn.Linear(kernel_out * c_in, c_out)
        self.register_buffer("radius", torch.tensor(float(radius)))

    def extra_repr(self) -> str:
        return f"group={self.group}, nbhd={self.nbhd}, ds_frac={self.ds_frac:.4g}, fill={self.fill:.4g}, knn={self.knn}"

    def _seed(self, offset: int) -> int | None:
        return None if self.training else 1000 * self.eval_seed + offset

    def query_indices(self, points: LiftedPoints) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Farthest-point sample of round(ds_frac · n_valid) points per set, or None (no subsampling)."""
        if self.ds_frac >= 1:
            return None
        counts = torch.round(points.mask.sum(-1) * self.ds_frac).long().clamp_min(1)
        return farthest_point_indices(self.group, points.elems, points.orbits, points.mask, counts, self._seed(0))

    def forward(self, points: LiftedPoints, queries: tuple[torch.Tensor, torch.Tensor] | None = None) -> LiftedPoints:
        """``queries``: (index, chosen) from ``query_indices`` (computed here when not given)."""
        if queries is None and self.ds_frac < 1:
            queries = self.query_indices(points)
        centre = points if queries is None else points.select(*queries, values=False)
        structure = (centre.elems, centre.orbits, centre.mask)
        nbhd = ball_neighbourhoods(
            self.group, structure, (points.elems, points.orbits, points.mask), float(self.radius), self.nbhd, self.knn,
            self._seed(1),
        )
        if self.training and not self.knn:
            self.radius += self.radius_rate * (self.fill - nbhd.fill)
        if nbhd.index is None:
            other = (points.elems[:, None], points.orbits[:, None])
        else:
            other = (gather_points(points.elems, nbhd.index.flatten(1)).unflatten(1, nbhd.index.shape[1:]),
                     gather_points(points.orbits, nbhd.index.flatten(1)).unflatten(1, nbhd.index.shape[1:]))
        pair = self.group.kernel_input(centre.elems[:, :, None], other[0], centre.orbits[:, :, None], other[1])
        kernel = self.kernel(pair, nbhd.mask) * nbhd.mask[..., None]
        args = (points.values, nbhd.index, kernel, centre.mask)
        if torch.is_grad_enabled() and (points.values.requires_grad or kernel.requires_grad):
            # recompute the (B, M, C·H) products (and gathered neighbours) in backward instead of storing them
            out = checkpoint(self._convolve_linear, *args, use_reentrant=False)
        else:
            out = self._convolve_linear(*args)
        if self.mean:
            out = out / nbhd.mask.sum(-1, keepdim=True).clamp_min(1)
        return replace(centre, values=out)

    def _convolve_linear(self, values, index, kernel, query_mask) -> torch.Tensor:
        """Linear(channel-major flattening of the products), on valid queries only."""
        return packed(lambda rows: self.linear(rows.flatten(-2)), neighbour_convolve(values, index, kernel), query_mask)


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
        return nn.functional.silu(self.norms[i](x) if self.norms is not None else x)

    def forward(self, points: LiftedPoints, queries: tuple[torch.Tensor, torch.Tensor] | None = None) -> LiftedPoints:
        """``queries``: precomputed (index, chosen) of the conv's subsampling, or None to compute them."""
        if queries is None:
            queries = self.conv.query_indices(points)
        x = packed(lambda v: self._act(1, self.down(self._act(0, v))), points.values, points.mask)
        out = self.conv(replace(points, values=x), queries)
        y = packed(lambda v: self.up(self._act(2, v)), out.values, out.mask)
        residual = points.values if queries is None else gather_points(points.values, queries[0])
        y = torch.cat([y[..., : self.c_in] + residual, y[..., self.c_in :]], -1)
        return replace(out, values=y)


class LieResNet(nn.Module):
    """Lift → Linear(c_in → k₀) → BottleBlocks → BN → Swish → Linear(→ num_outputs) → masked mean pool.

    Args:
        channels: widths k₀ … k_L (L = number of blocks).
        fills: the neighbourhood fill fraction of each block.
        ds_frac: per-layer farthest-point subsampling fraction.
        liftsamples: stabiliser samples per point.
    """

    def __init__(
        self, c_in: int, num_outputs: int, group: PointGroup, channels: list[int], *, fills: list[float], nbhd: int,
        ds_frac: float = 1.0, bn: bool = True, mean: bool = True, liftsamples: int = 1, knn: bool = False, eval_seed: int = 0,
    ) -> None:
        super().__init__()
        self.group, self.liftsamples, self.eval_seed = group, int(liftsamples), eval_seed
        self.embed = nn.Linear(c_in, channels[0])
        self.blocks = nn.ModuleList(
            BottleBlock(
                channels[i], channels[i + 1],
                LieConv(channels[i] // 4, channels[i + 1] // 4, group, nbhd=nbhd, ds_frac=ds_frac, fill=fills[i], knn=knn,
                        bn=bn, mean=mean, eval_seed=eval_seed + 1 + i),
                bn,
            )
            for i in range(len(channels) - 1)
        )
        self.final_norm = MaskBatchNorm(channels[-1]) if bn else None
        self.head = nn.Linear(channels[-1], num_outputs)

    def lift(self, coords: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> LiftedPoints:
        """coords (B, n, d), values (B, n, c), mask (B, n) → LiftedPoints with n·liftsamples points."""
        s = self.liftsamples
        uniform = uniform_noise((*coords.shape[:-1], s, self.group.lift_noise_dim), None if self.training else self.eval_seed, coords.device)
        elems, orbits = self.group.lift(coords, s, uniform.to(coords.dtype))
        return LiftedPoints(
            elems.flatten(1, 2), orbits.flatten(1, 2), mask.repeat_interleave(s, 1), values.repeat_interleave(s, 1)
        )

    def forward_lifted(self, points: LiftedPoints) -> torch.Tensor:
        """(B, num_outputs) from an already lifted set."""
        points = replace(points, values=self.embed(points.values))
        for block in self.blocks:
            points = block(points)
        return self.pool(points)

    def pool(self, points: LiftedPoints) -> torch.Tensor:
        """BN → Swish → Linear on each point, then the mean over valid points: (B, num_outputs)."""
        def head(v):
            return self.head(nn.functional.silu(self.final_norm(v) if self.final_norm is not None else v))

        x = packed(head, points.values, points.mask)
        mask = points.value_mask()[..., None].to(x.dtype)
        return (x * mask).sum(1) / mask.sum(1).clamp_min(1)

    def forward(self, coords: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.forward_lifted(self.lift(coords, values, mask))


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

    The lifted grid is fixed (lifted once from a seeded generator, as the official cached lift),
    and farthest-point subsampling of a fixed grid gives fixed queries, so both are buffers computed
    at construction. Channels grow as k / ds^{i/2} and fills as fill / ds^i (ds = total_ds^{1/L}).
    ``shared_neighbourhoods``: draw one neighbourhood sample per batch rather than one per image
    (cheaper; the official layer draws per image).
    """

    def __init__(
        self, group: PointGroup, *, image_size: int = 28, c_in: int = 1, num_classes: int = 10, k: int = 128,
        num_layers: int = 6, total_ds: float = 0.1, fill: float = 0.1, nbhd: int = 25, liftsamples: int = 1,
        knn: bool = False, bn: bool = True, crop_radius: float = 15.0, lift_seed: int = 0, shared_neighbourhoods: bool = True,
    ) -> None:
        ds = total_ds ** (1 / num_layers)
        channels = [int(k / ds ** (i / 2)) for i in range(num_layers + 1)]
        fills = [fill / ds**i for i in range(num_layers)]
        super().__init__(c_in, num_classes, group, channels, fills=fills, nbhd=nbhd, ds_frac=ds, bn=bn,
                         liftsamples=liftsamples, knn=knn)
        self.shared_neighbourhoods = shared_neighbourhoods
        coords, keep = image_grid(image_size, image_size, crop_radius)
        self.register_buffer("pixel_mask", keep, persistent=False)
        generator = torch.Generator().manual_seed(lift_seed)
        uniform = torch.rand(1, len(coords), self.liftsamples, group.lift_noise_dim, generator=generator)
        elems, orbits = group.lift(coords[None], self.liftsamples, uniform)
        self.register_buffer("grid_elems", elems.flatten(1, 2), persistent=False)
        self.register_buffer("grid_orbits", orbits.flatten(1, 2), persistent=False)
        self.register_buffer("grid_mask", torch.ones(1, self.grid_elems.shape[1], dtype=torch.bool), persistent=False)
        self._query_buffers(lift_seed + 1)

    @torch.no_grad()
    def _query_buffers(self, seed: int) -> None:
        """Farthest-point queries of every block on the fixed grid, stored as buffers."""
        points = LiftedPoints(self.grid_elems, self.grid_orbits, self.grid_mask, self.grid_elems.new_zeros(1, 1, 1))
        self.point_counts = [points.mask.shape[1]]
        for i, block in enumerate(self.blocks):
            conv = block.conv
            counts = torch.round(points.mask.sum(-1) * conv.ds_frac).long().clamp_min(1)
            index, chosen = farthest_point_indices(self.group, points.elems, points.orbits, points.mask, counts, seed + i)
            self.register_buffer(f"queries_{i}", index, persistent=False)
            points = points.select(index, chosen, values=False)
            self.point_counts.append(int(chosen.sum()))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, c, h, w) → logits (B, num_classes)."""
        batch = images.shape[0]
        values = images.permute(0, 2, 3, 1)[:, self.pixel_mask].repeat_interleave(self.liftsamples, 1)
        size = 1 if self.shared_neighbourhoods else batch
        points = LiftedPoints(
            self.grid_elems.expand(size, -1, -1), self.grid_orbits.expand(size, -1, -1), self.grid_mask.expand(size, -1), values
        )
        points = replace(points, values=self.embed(points.values))
        for i, block in enumerate(self.blocks):
            index = getattr(self, f"queries_{i}").expand(size, -1)
            points = block(points, (index, torch.ones_like(index, dtype=torch.bool)))
        return self.pool(points)


class MoleculeLieResNet(LieResNet):
    """LieResNet for molecules: atoms are points (positions in Å), features one-hot(H, C, N, O, F) ⊗
    [1, Z/9, (Z/9)²] (15 channels), one scalar output per molecule."""

    def __init__(
        self, group: PointGroup, *, k: int = 1536, num_layers: int = 6, nbhd: int = 100, fill: float = 1.0,
        liftsamples: int = 1, knn: bool = False, bn: bool = True, num_species: int = 5, charge_power: int = 2,
    ) -> None:
        super().__init__(num_species * (charge_power + 1), 1, group, [k] * (num_layers + 1), fills=[fill] * num_layers,
                         nbhd=nbhd, ds_frac=1.0, bn=bn, liftsamples=liftsamples, knn=knn)

    def forward(self, positions: torch.Tensor, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """positions (B, n, 3), features (B, n, 15), mask (B, n) → (B,)."""
        return super().forward(positions, features, mask)[:, 0]
