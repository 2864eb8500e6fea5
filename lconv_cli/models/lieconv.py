"""LieConv (Finzi et al., ICML 2020): the convolution layer, bottleneck blocks and LieResNet.

A lifted point set travels between layers as ``LiftedPoints``: group elements, orbit ids and a
mask (the *structure*, batch B or 1 when a whole batch shares it, as for an image grid) and
feature ``values`` packed as (P, C), one row per valid point of the B sets, so the wide pointwise
layers never compute on padding. A LieConv layer

1. optionally subsamples its queries by farthest-point sampling on the group distance,
2. picks up to ``nbhd`` neighbours per query inside a ball whose radius adapts in training so
   that a ``fill`` fraction of the points falls inside (or the k nearest, ``knn=True``),
3. evaluates a kernel MLP (Linear → masked BN → Swish, three times) on the pair coordinates
   [log(v⁻¹u), q_u, q_v], and
4. applies the PointConv trick: Linear(Σ_v values_v ⊗ h(u, v)) / #neighbours.

Randomness (neighbour draws, the start of farthest-point sampling, lifting) comes from torch's
global RNG in training, which the runner seeds. In eval mode it is a fixed hash of the
point indices (``uniform_noise``), so evaluation is deterministic and does not depend on the batch
size or on padding.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from functools import partial

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.utils.checkpoint import checkpoint

from lconv_cli.groups.point_groups import PointGroup
from lconv_cli.models.point_sampling import (
    Neighbourhoods,
    ball_neighbourhoods,
    farthest_point_indices,
    gather_points,
    uniform_noise,
)


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


PAIR_TABLE_MAX = 1 << 21  # largest B·N² for which the pair table is built (SE(3) QM9 batches: ~1M)


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


def norm_swish(norm: MaskBatchNorm | None, x: torch.Tensor) -> torch.Tensor:
    """Swish(BN(x)) on packed rows. In training only x is kept for the backward pass; the normalised
    values are recomputed (elementwise, cheap) instead of being stored twice."""
    if norm is None:
        return nn.functional.silu(x)
    if not (norm.training and torch.is_grad_enabled()):
        return nn.functional.silu(norm(x))
    calls = []

    def run(x: torch.Tensor) -> torch.Tensor:
        calls.append(None)
        return nn.functional.silu(norm(x, update_stats=len(calls) == 1))

    return checkpoint(run, x, use_reentrant=False)


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

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        update_stats: bool = True,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x (..., C), mask broadcastable to x.shape[:-1] (None: every entry is valid).

        ``update_stats=False`` normalises with the batch statistics without touching the running
        estimates (for recomputation under activation checkpointing). ``weights`` (R,): x is (R, C)
        distinct rows, row r standing for ``weights[r]`` identical entries (statistics as over the
        repeated rows; mask must be None)."""
        running = (self.running_mean, self.running_var)
        if self.training and not update_stats:
            running = tuple(r.clone() for r in running)  # the update lands on throwaway copies
        if weights is not None and self.training:
            return self._weighted(x, weights, running)
        norm = lambda rows: nn.functional.batch_norm(  # noqa: E731
            rows, *running, self.weight, self.bias, self.training, self.momentum, self.eps
        )
        if mask is not None:
            mask = mask.expand(x.shape[:-1])
        if not self.training or mask is None or bool(mask.all()):
            return norm(x.reshape(-1, x.shape[-1])).view(x.shape)
        if not bool(mask.any()):
            return x
        return x.masked_scatter(mask[..., None], norm(x[mask]))

    def _weighted(self, x: torch.Tensor, weights: torch.Tensor, running: tuple[torch.Tensor, torch.Tensor]):
        """Training batch norm of (R, C) rows with multiplicities ``weights`` (R,)."""
        xf = x if x.dtype in (torch.float32, torch.float64) else x.float()  # statistics at least in float32
        w = weights.to(xf.dtype)[:, None]
        count = w.sum()
        mean = (w * xf).sum(0) / count
        var = (w * (xf - mean).square()).sum(0) / count
        with torch.no_grad():
            running[0].lerp_(mean.to(running[0].dtype), self.momentum)
            running[1].lerp_((var * (count / (count - 1).clamp_min(1))).to(running[1].dtype), self.momentum)
        y = (xf - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias
        return y.to(x.dtype)


class KernelMLP(nn.Module):
    """The LieConv kernel: (Linear → masked BN → Swish) × 3, in_dim → width → width → out_dim."""

    def __init__(self, in_dim: int, out_dim: int = 16, width: int = 32, bn: bool = True) -> None:
        super().__init__()
        dims = [in_dim, width, width, out_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))
        self.norms = nn.ModuleList(MaskBatchNorm(b) for b in dims[1:]) if bn else None
        self.recompute = True

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x (..., in_dim) → (..., out_dim); batch statistics over entries where ``mask`` (None: all),
        or over (R, in_dim) distinct rows each counted ``weights`` (R,) times.

        In training the MLP's activations (three widths per pair, the bulk of a layer's memory) are
        recomputed in the backward pass rather than stored (unless ``recompute`` is off); it is cheap
        next to the convolution.
        """
        if not (self.recompute and self.training and torch.is_grad_enabled()):
            return self._run(x, mask, True, weights)
        calls = []

        def run(x: torch.Tensor) -> torch.Tensor:
            calls.append(None)  # the recomputation must not update BN statistics
            return self._run(x, mask, len(calls) == 1, weights)

        return checkpoint(run, x, use_reentrant=False)

    def _run(
        self, x: torch.Tensor, mask: torch.Tensor | None, update_stats: bool, weights: torch.Tensor | None
    ) -> torch.Tensor:
        for i, linear in enumerate(self.linears):
            x = linear(x)
            if self.norms is not None:
                x = self.norms[i](x, mask, update_stats, weights)
            x = nn.functional.silu(x)
        return x


def neighbour_convolve(values: torch.Tensor, index: torch.Tensor | None, kernel: torch.Tensor) -> torch.Tensor:
    """(B, N, C) values and (B|1, M, K, H) masked kernel values → Σ_k kernel_k ⊗ values_k, (B, M, H, C);
    ``index`` (B|1, M, K) picks the neighbours (None: all N points, K = N)."""
    batch, (m, k, h) = values.shape[0], kernel.shape[1:]
    if index is None:  # one (M·H × N)(N × C) product per set
        kernel = kernel.transpose(2, 3).reshape(-1, m * h, k).expand(batch, -1, -1)
        return (kernel @ values).view(batch, m, h, -1)
    neighbours = gather_points(values, index.flatten(1)).unflatten(1, index.shape[1:])  # (B, M, K, C)
    return kernel.transpose(-1, -2) @ neighbours


# below this width, or under bf16 autocast (cheap AMX products), one padded batched product beats the per-set loop (measured)
PER_SET_MIN_CHANNELS = 256
CHUNK_ROWS = 768  # query rows per chunk in the per-set path: bounds the (rows, H·C) products in memory


def packed_products(
    values: torch.Tensor, kernel: torch.Tensor, query_mask: torch.Tensor, point_mask: torch.Tensor
) -> list[torch.Tensor]:
    """Σ_j kernel_ij ⊗ values_j set by set, on valid points only: packed values (P_in, C), kernel
    (B|1, M, N, H), masks (B, M), (B, N) → chunks of about ``CHUNK_ROWS`` rows of (rows, H·C), in the
    order of the valid queries. One (m_b·H × n_b)(n_b × C) product per set, so padded queries and
    points cost nothing."""
    counts = point_mask.sum(1).tolist()
    kernels = kernel.unbind(0) if kernel.shape[0] > 1 else [kernel[0]] * len(counts)  # unbind/split: cheap backward
    chunks, pieces, rows = [], [], 0
    for k, v, queries, points in zip(kernels, values.split(counts), query_mask, point_mask):
        k = k[queries][:, points]  # (m_b, n_b, H)
        pieces.append((k.transpose(1, 2).reshape(-1, v.shape[0]) @ v).view(k.shape[0], -1))
        rows += k.shape[0]
        if rows >= CHUNK_ROWS:
            chunks.append(torch.cat(pieces))
            pieces, rows = [], 0
    if pieces:
        chunks.append(torch.cat(pieces))
    return chunks


class ProductsLinear(torch.autograd.Function):
    """linear(products(values, kernel)) that stores neither the (rows, H·C) products nor anything the
    linear map computed: the backward pass recomputes only the products (cheap: Σ m·n·H·C) and
    gets the linear map's gradients from them, instead of re-running the forward as activation
    checkpointing would (the H·C → c_out product is the layer's most expensive one). Autocast in the
    forward is replayed in the backward recomputation. First-order gradients only."""

    @staticmethod
    def forward(ctx, values, kernel, weight, bias, products):
        """values, kernel: the inputs of ``products`` (a function → list of (rows, H·C) chunks);
        weight (c_out, H·C), bias (c_out,) → (rows, c_out)."""
        ctx.products = products
        ctx.device_type = values.device.type
        ctx.autocast = torch.is_autocast_enabled(ctx.device_type)
        ctx.autocast_dtype = torch.get_autocast_dtype(ctx.device_type)
        ctx.save_for_backward(values, kernel, weight, bias)
        chunks = products(values, kernel)
        return torch.cat([nn.functional.linear(chunk, weight, bias) for chunk in chunks])

    @staticmethod
    @once_differentiable  # a second derivative (create_graph) raises instead of being silently wrong
    def backward(ctx, grad_out):
        values, kernel, weight, bias = ctx.saved_tensors
        inputs = [t.detach().requires_grad_(need) for t, need in zip((values, kernel), ctx.needs_input_grad)]
        with torch.enable_grad(), torch.autocast(ctx.device_type, ctx.autocast_dtype, enabled=ctx.autocast):
            chunks = ctx.products(*inputs)
        w = weight.to(chunks[0].dtype)
        grad_out = grad_out.to(chunks[0].dtype)
        grad_weight = torch.zeros_like(weight) if ctx.needs_input_grad[2] else None
        grad_chunks, start = [], 0
        for chunk in chunks:
            g = grad_out[start : start + chunk.shape[0]]
            start += chunk.shape[0]
            if grad_weight is not None:
                grad_weight += (g.t() @ chunk.detach()).to(weight.dtype)
            grad_chunks.append(g @ w)
        grad_bias = grad_out.sum(0).to(bias.dtype) if bias is not None and ctx.needs_input_grad[3] else None
        wanted = [t for t in inputs if t.requires_grad]
        found = iter(torch.autograd.grad(chunks, wanted, grad_chunks, allow_unused=True) if wanted else ())
        grads = [next(found) if t.requires_grad else None for t in inputs]
        return grads[0], grads[1], grad_weight, grad_bias, None


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
        products = partial(self._products, index=index, query_mask=query_mask, point_mask=points.value_mask())
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

    @staticmethod
    def _products(values, kernel, *, index, query_mask, point_mask) -> list[torch.Tensor]:
        """Σ_k kernel_k ⊗ values_k on the valid queries, flattened: chunks of (rows, H·C).

        values (P_in, C) packed; kernel (B|1, M, K, H); index (B|1, M, K) or None (all N points);
        masks (B, M) and (B, N).
        """
        padding = not (bool(query_mask.all()) and bool(point_mask.all()))
        wide = values.shape[-1] >= PER_SET_MIN_CHANNELS and not torch.is_autocast_enabled(values.device.type)
        if index is None and padding and wide:
            return packed_products(values, kernel, query_mask, point_mask)
        padded = pad_rows(values, point_mask)
        products = neighbour_convolve(padded, index, kernel)  # (B, M, H, C)
        rows = products.flatten(0, 1).flatten(-2)
        if not bool(query_mask.all()):  # index_select: its backward adds whole rows, no masked index_put
            rows = rows.index_select(0, query_mask.flatten().nonzero().squeeze(1))
        return [rows]


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
        )

    def forward(self, positions: torch.Tensor, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """positions (B, n, 3), features (B, n, 15), mask (B, n) → (B,)."""
        return super().forward(positions, features, mask)[:, 0]
