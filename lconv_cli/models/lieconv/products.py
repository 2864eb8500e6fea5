"""The PointConv products Σ_j kernel_ij ⊗ values_j of a LieConv layer, and their linear map with the
products recomputed (not stored) in the backward pass."""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from lconv_cli.models.lieconv.points import pad_rows
from lconv_cli.models.point_sampling import gather_points


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


def convolution_products(values, kernel, *, index, query_mask, point_mask) -> list[torch.Tensor]:
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
