"""Batch norm over the valid (masked) entries of packed point features, and Swish(BN(x)) with recomputation."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


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
