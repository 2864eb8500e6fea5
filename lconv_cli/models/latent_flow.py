"""The latent-flow symmetry detector of the neural symmetry detection paper (2024).

An MLP autoencoder maps an n×n image to ``channels`` latent p×p patches; a t-network reads the
pair (x0, xt) and predicts the parameter t; one generator G_α = Σ α̂_i D_i, with α̂ = α/‖α‖ the
unit coefficient vector in a vector-field basis (6 affine or 12 quadratic fields, normalised
coordinates), acts on each latent patch as z_t = expm(t G_α) z. The same α̂ acts in pixel space
through the Shannon–Whittaker operators of the n×n grid (α-matching), which ties the latent
generator to a field on the image.

Loss (paper eq. 6): ‖dec(expm(t G) enc(x0)) − xt‖² + λ_r [‖AE(x0) − x0‖² + ‖AE(xt) − xt‖²]
+ λ_z ‖expm(t G) enc(x0) − enc(xt)‖² + λ_α ‖exp(s t G′) x0 − xt‖² + λ_L ‖α‖₁, all mean squared
errors, with G′ the pixel-space operator and s a learned scale between the latent and the pixel
parameter. The paper approximates exp(s t G′) x0 by a Taylor polynomial, because the (n², n²)
exponential is expensive; ``taylor_order=0`` computes it exactly instead, by RK4 on actions of G′
alone (:meth:`PixelFieldAction.expm`).
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from lconv_cli.lie.flows import grid_points, monomials
from lconv_cli.lie.generators import basis_monomials, field_basis_2d, normalised_coords
from lconv_cli.lie.shannon_whittaker import sw_derivative_matrix

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh}


def mlp(widths: list[int], activation: str = "leaky_relu") -> nn.Sequential:
    """Linear layers through ``widths`` with ``activation`` between them (none after the last)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    layers: list[nn.Module] = []
    for i, (w_in, w_out) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(w_in, w_out))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class PixelFieldAction(nn.Module):
    """G_α x for images x on an n×n grid: Σ_i α_i m_i(p) ∂_{axis(i)} x, with SW derivatives.

    Exploits the structure of the basis: two derivative images (one n×n matrix product each)
    and a weighted sum of monomial maps, so no (n², n²) operator is ever formed. Equals
    ``field_basis_2d(n, basis, normalised=True)`` contracted with α (tested).
    """

    def __init__(self, n: int, basis: str) -> None:
        super().__init__()
        self.n = n
        # (1, x, y[, x², xy, y²]) at the pixels: the affine monomials are the first three of the quadratic ones
        mono = monomials(grid_points(normalised_coords(n))).T[: len(basis_monomials(basis))]
        self.register_buffer("monomials", mono.float())  # (k/2, n²)
        derivative = sw_derivative_matrix(n) * (n / 2)  # d/du, u in half-widths
        self.register_buffer("derivative", derivative.float())
        self.derivative_norm = float(torch.linalg.matrix_norm(derivative, ord=2))  # π n/2 (n even) in half-widths

    def forward(self, alpha: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """(B, n²) G_α images for ``alpha`` (k,) and ``images`` (B, n²)."""
        half = self.monomials.shape[0]
        img = images.reshape(-1, self.n, self.n)
        d_x = (img @ self.derivative.T).reshape(len(img), -1)  # along columns
        d_y = (self.derivative @ img).reshape(len(img), -1)  # along rows
        return (alpha[:half] @ self.monomials) * d_x + (alpha[half:] @ self.monomials) * d_y

    def taylor(self, alpha: torch.Tensor, t: torch.Tensor, images: torch.Tensor, order: int) -> torch.Tensor:
        """(B, n²) Σ_{k=0}^{order} t^k G_α^k x / k!, the truncated exp(t G_α) x, for t (B,)."""
        term, total = images, images
        for k in range(1, order + 1):
            term = self(alpha, term) * (t[:, None] / k)
            total = total + term
        return total

    def norm_bound(self, alpha: torch.Tensor) -> float:
        """An upper bound on ‖G_α‖₂: ‖D‖ (max|Γ_x| + max|Γ_y|), D the SW derivative (‖D‖ = π n/2 in half-widths)."""
        half = self.monomials.shape[0]
        with torch.no_grad():
            speed = (alpha[:half] @ self.monomials).abs().max() + (alpha[half:] @ self.monomials).abs().max()
            return float(speed) * self.derivative_norm

    def rk4_steps(self, alpha: torch.Tensor, t: torch.Tensor, max_step: float = 2.5) -> int:
        """The fewest RK4 steps with max|t|·‖G_α‖/steps ≤ ``max_step`` (RK4 is stable on the imaginary axis below 2.83)."""
        return max(1, math.ceil(float(t.detach().abs().max()) * self.norm_bound(alpha) / max_step))

    def expm(
        self, alpha: torch.Tensor, t: torch.Tensor, images: torch.Tensor, steps: int | None = None
    ) -> torch.Tensor:
        """(B, n²) exp(t G_α) x by RK4 steps of dx/ds = t G_α x over s ∈ [0, 1].

        Only actions of G_α on images are needed (never the (n², n²) matrix), so the exact
        pixel-space exponential costs 4·steps cheap products. ``steps=None`` takes the fewest
        steps that keep every mode stable (:meth:`rk4_steps`).
        """
        steps = self.rk4_steps(alpha, t) if steps is None else steps
        h = (t / steps)[:, None]
        x = images
        for _ in range(steps):
            k1 = self(alpha, x) * h
            k2 = self(alpha, x + k1 / 2) * h
            k3 = self(alpha, x + k2 / 2) * h
            k4 = self(alpha, x + k3) * h
            x = x + (k1 + 2 * k2 + 2 * k3 + k4) / 6
        return x


class LatentFlowModel(nn.Module):
    """Autoencoder with a latent one-parameter group, a t-network, and a generator in a field basis.

    Args:
        n: image side (images are flattened to n² values).
        basis: ``affine`` (6 fields) or ``quadratic`` (12).
        encoder_widths: hidden widths between n² and the latent (default 512, 256, 128, 64).
        t_widths: hidden widths of the t-network, 2n² → … → 1.
        patch: latent patch side p (latent dimension channels · p²).
        channels: latent patches, each transformed by the same expm(t G).
        activation: ``leaky_relu`` (slope 0.2, the official code), ``relu`` or ``tanh``.
        alpha_init: std of the initial raw coefficients (normalised in use).
        rng: torch.Generator for the coefficient initialisation.
    """

    def __init__(
        self,
        n: int,
        basis: str = "affine",
        encoder_widths: list[int] = (512, 256, 128, 64),
        t_widths: list[int] = (512, 256, 128, 64),
        patch: int = 5,
        channels: int = 1,
        activation: str = "leaky_relu",
        alpha_init: float = 1.0,
        rng: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n, self.patch, self.channels, self.basis = n, patch, channels, basis
        latent = channels * patch * patch
        self.encoder = mlp([n * n, *encoder_widths, latent], activation)
        self.decoder = mlp([latent, *reversed(list(encoder_widths)), n * n], activation)
        self.t_net = mlp([2 * n * n, *t_widths, 1], activation)
        self.register_buffer("latent_basis", field_basis_2d(patch, basis, normalised=True).float())  # (k, p², p²)
        k = self.latent_basis.shape[0]
        self.alpha = nn.Parameter(alpha_init * torch.randn(k, generator=rng, dtype=torch.float32))
        self.log_pixel_scale = nn.Parameter(torch.zeros(()))
        self.pixel_action = PixelFieldAction(n, basis)

    def network_parameters(self) -> list[nn.Parameter]:
        """Everything but α (trained at its own learning rate)."""
        return [p for name, p in self.named_parameters() if name != "alpha"]

    def unit_alpha(self) -> torch.Tensor:
        """(k,) α̂ = α/‖α‖."""
        return self.alpha / self.alpha.norm().clamp_min(1e-12)

    def latent_generator(self) -> torch.Tensor:
        """(p², p²) G_α on the latent patch."""
        return torch.einsum("k,kij->ij", self.unit_alpha(), self.latent_basis)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, channels, p²) latent patches of images (B, n²)."""
        return self.encoder(x).reshape(len(x), self.channels, -1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, n²) images from latent patches (B, channels, p²)."""
        return self.decoder(z.reshape(len(z), -1))

    def predict_t(self, x0: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        """(B,) the predicted parameter of each pair."""
        return self.t_net(torch.cat([x0, xt], dim=1))[:, 0]

    def flow_latent(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(B, channels, p²) expm(t G_α) z for z (B, channels, p²), t (B,)."""
        maps = torch.linalg.matrix_exp(t[:, None, None] * self.latent_generator())
        return torch.einsum("bij,bcj->bci", maps, z)

    def forward(self, x0: torch.Tensor, xt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(prediction of xt (B, n²), predicted t (B,))."""
        t = self.predict_t(x0, xt)
        return self.decode(self.flow_latent(self.encode(x0), t)), t

    def pixel_transform(self, t: torch.Tensor, x0: torch.Tensor, taylor_order: int = 0) -> torch.Tensor:
        """(B, n²) the α-matching image: exp(t G′) x0 (RK4, ``taylor_order=0``) or its Taylor polynomial of that order."""
        alpha = self.unit_alpha()
        if taylor_order == 0:
            return self.pixel_action.expm(alpha, t, x0)
        return self.pixel_action.taylor(alpha, t, x0, taylor_order)

    def losses(
        self,
        x0: torch.Tensor,
        xt: torch.Tensor,
        taylor_order: int = 0,
        detach_t: bool = False,
        t: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """The unweighted loss terms of eq. 6 on a batch: ``pixel``, ``recon``, ``latent``, ``alpha``, ``l1``.

        ``taylor_order``: 0 matches with the exact pixel-space exponential
        (:meth:`PixelFieldAction.expm`), k > 0 with its Taylor polynomial of order k (the paper).
        ``detach_t``: the α-matching term trains only α and the pixel scale (the official code);
        otherwise it trains the t-network too. ``t``: the predicted parameters if already computed.
        """
        t = self.predict_t(x0, xt) if t is None else t
        z0, zt = self.encode(x0), self.encode(xt)
        z_moved = self.flow_latent(z0, t)
        mse = lambda a, b: ((a - b) ** 2).mean()  # noqa: E731
        t_pixel = (t.detach() if detach_t else t) * self.log_pixel_scale.exp()
        matched = self.pixel_transform(t_pixel, x0, taylor_order)
        return {
            "pixel": mse(self.decode(z_moved), xt),
            "recon": mse(self.decode(z0), x0) + mse(self.decode(zt), xt),
            "latent": mse(z_moved, zt),
            "alpha": mse(matched, xt),
            "l1": self.alpha.abs().sum(),
        }
