"""The LieConv kernel MLP on pair coordinates."""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from lconv_cli.models.lieconv.batchnorm import MaskBatchNorm


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
