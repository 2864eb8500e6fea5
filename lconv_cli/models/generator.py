"""A learnable Lie-algebra generator acting through the exponential map."""

from __future__ import annotations

import torch
from torch import nn

from lconv_cli.lie.expm import expm_action

EXP_METHODS = ("taylor", "matrix_exp", "recursive")


class ExpGenerator(nn.Module):
    """y = exp(θ L) f with a learnable (d, d) generator L.

    Args:
        dim: d, the number of pixels (or features) the generator acts on.
        method: how exp is applied.
            ``taylor``: scaled truncated Taylor series on the vectors (accurate to float precision, fast);
            ``matrix_exp``: ``torch.linalg.matrix_exp`` per sample (exact, slow: B matrix exponentials);
            ``recursive``: the recursive L-conv (I + θL/K)^K, K = ``recursion_steps`` (biased for large θ‖L‖).
        order: Taylor order for ``taylor``.
        recursion_steps: K for ``recursive``.
        init_scale: entries of L start as N(0, init_scale²).
        generator: torch.Generator for the initialisation (seeded runs).
    """

    def __init__(
        self,
        dim: int,
        method: str = "taylor",
        order: int = 12,
        recursion_steps: int = 8,
        init_scale: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if method not in EXP_METHODS:
            raise ValueError(f"method must be one of {EXP_METHODS}, got {method!r}")
        self.method = method
        self.order = order
        self.recursion_steps = recursion_steps
        self.generator_matrix = nn.Parameter(init_scale * torch.randn(dim, dim, generator=generator))

    def forward(self, f: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """f: (B, d), theta: (B,) → (B, d)."""
        lmat = self.generator_matrix
        if self.method == "matrix_exp":
            return (torch.linalg.matrix_exp(theta[:, None, None] * lmat) @ f[:, :, None]).squeeze(-1)
        if self.method == "recursive":
            return expm_action(lmat, theta, f, order=1, substeps=self.recursion_steps)
        return expm_action(lmat, theta, f, order=self.order)
