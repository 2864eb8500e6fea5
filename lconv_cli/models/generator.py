"""A learnable Lie-algebra generator acting through the exponential map."""

from __future__ import annotations

import torch
from torch import nn

from lconv_cli.lie.expm import expm_action, expm_action_squaring
from lconv_cli.models.lconv import seeded_linear_init

EXP_METHODS = ("squaring", "taylor", "matrix_exp", "recursive")


class ExpGenerator(nn.Module):
    """y = exp(θ L) f with a learnable (d, d) generator L.

    Args:
        dim: d, the number of pixels (or features) the generator acts on.
        method: how exp is applied.
            ``squaring``: one matrix exponential, binary powers and a short Taylor series on the
            vectors (accurate to float precision, fastest when θ‖L‖ is large);
            ``taylor``: scaled truncated Taylor series on the vectors (accurate to float precision, fast);
            ``matrix_exp``: ``torch.linalg.matrix_exp`` per sample (exact, slow: B matrix exponentials);
            ``recursive``: the recursive L-conv (I + θL/K)^K, K = ``recursion_steps`` (biased for large θ‖L‖).
        order: Taylor order for ``taylor``.
        recursion_steps: K for ``recursive``.
        init_scale: entries of L start as N(0, init_scale²).
        rng: torch.Generator for the initialisation (seeded runs).
    """

    def __init__(
        self,
        dim: int,
        method: str = "squaring",
        order: int = 12,
        recursion_steps: int = 8,
        init_scale: float = 0.01,
        rng: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if method not in EXP_METHODS:
            raise ValueError(f"method must be one of {EXP_METHODS}, got {method!r}")
        self.method = method
        self.order = order
        self.recursion_steps = recursion_steps
        self.generator_matrix = nn.Parameter(init_scale * torch.randn(dim, dim, generator=rng))

    def forward(self, f: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """f: (B, d), theta: (B,) → (B, d)."""
        lmat = self.generator_matrix
        if self.method == "matrix_exp":
            return (torch.linalg.matrix_exp(theta[:, None, None] * lmat) @ f[:, :, None]).squeeze(-1)
        if self.method == "recursive":
            return expm_action(lmat, theta, f, order=1, substeps=self.recursion_steps)
        if self.method == "squaring":
            return expm_action_squaring(lmat, theta, f, order=self.order)
        return expm_action(lmat, theta, f, order=self.order)


class UnknownAngleGenerator(nn.Module):
    """y = exp(θ̂ L̂) f where θ̂ is predicted from the pair (f, g) and L̂ is a normalised learnable generator.

    With θ unknown, L and θ are only determined up to a common scale, so the generator is
    normalised, L̂ = √d · L / ‖L‖_F, and θ̂ comes out in the matching units. The angle network
    sees L-conv features of the pair: r_k = ⟨L̂^k f, g⟩ / ‖L̂^k f‖² for k = 0..K (to first order
    in θ, r_1 = θ for an antisymmetric generator), fed through a small tanh MLP.

    Args:
        dim: d, the number of pixels.
        num_features: K, the highest power of L̂ in the features.
        hidden: width of the two hidden layers of the angle MLP.
        init_scale: entries of L start as N(0, init_scale²).
        order: Taylor order of the exponential action.
    """

    def __init__(
        self,
        dim: int,
        num_features: int = 3,
        hidden: int = 32,
        init_scale: float = 0.01,
        order: int = 12,
        rng: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.order = order
        self.init_scale = init_scale
        self.generator_raw = nn.Parameter(init_scale * torch.randn(dim, dim, generator=rng))
        layers = [
            nn.Linear(num_features + 1, hidden),
            nn.Tanh(),
            nn.Linear(hidden, hidden),
            nn.Tanh(),
            nn.Linear(hidden, 1),
        ]
        for layer in layers[::2]:
            seeded_linear_init(layer, rng, zero_bias=True)
        self.angle_net = nn.Sequential(*layers)

    def scale_penalty(self) -> torch.Tensor:
        """(mean L_ij² − init_scale²)²: holds the raw parameter at its initial scale.

        L̂ ignores the scale of L, so the gradient is orthogonal to L and every Adam step makes
        ‖L‖ grow; the effective (angular) learning rate then falls as 1/‖L‖ and training stalls
        (measured at 20×20: ‖L‖ grew 27× and |cos| stopped at 0.84). The penalty has no effect on L̂.
        """
        return (self.generator_raw.pow(2).mean() - self.init_scale**2) ** 2

    @property
    def generator_matrix(self) -> torch.Tensor:
        """(d, d) the normalised generator L̂."""
        raw = self.generator_raw
        return raw * (raw.shape[0] ** 0.5 / raw.norm())

    def predict_theta(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """f, g: (B, d) → (B,) θ̂."""
        lt = self.generator_matrix.transpose(0, 1)
        feats, power = [], f
        for k in range(self.num_features + 1):
            if k:
                power = power @ lt
            feats.append((power * g).sum(-1) / (power * power).sum(-1).clamp_min(1e-12))
        return self.angle_net(torch.stack(feats, -1))[:, 0]

    def forward(self, f: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(exp(θ̂ L̂) f, θ̂) for a batch of pairs f, g: (B, d)."""
        theta = self.predict_theta(f, g)
        return expm_action_squaring(self.generator_matrix, theta, f, order=self.order), theta
