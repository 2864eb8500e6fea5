"""LieGAN (Yang et al., ICML 2023), the adversarial baseline for symmetry discovery from samples.

A generator holds k vector fields V_1 … V_k (each a unit coefficient row over the monomial basis of
degree ``degree``; degree 1 is LieGAN's linear Lie algebra basis). It transforms a sample x by the
group element exp(Σ_i z_i V_i), z ~ N(0, coef_std² I) drawn per sample: the matrix exponential for
linear fields, an RK4 flow for time 1 otherwise. A discriminator tells real samples from transformed
ones; the generator learns fields whose flows it cannot tell apart, i.e. symmetries of the
distribution. A penalty Σ_{i<j} ⟨V̂_i, V̂_j⟩² keeps the channels apart (LieGAN's regulariser).
The number of fields k is an input: LieGAN does not find the dimension.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from lconv_cli.lie.vector_fields import monomial_exponents, monomials


class FlowGenerator(nn.Module):
    """k learnable fields on R^n of degree ≤ ``degree``; forward(x (B, n), rng) → transformed (B, n)."""

    def __init__(
        self, k: int, samples: torch.Tensor, degree: int, coef_std: float, flow_steps: int, rng: torch.Generator
    ) -> None:
        super().__init__()
        n = samples.shape[1]
        self.n, self.degree, self.coef_std, self.flow_steps = n, degree, coef_std, flow_steps
        self.register_buffer("exponents", monomial_exponents(n, degree))
        # each basis field's RMS size over the samples: the learned rows are in units where every basis
        # field moves the data equally, so a cubic term does not fling the far samples away
        rms = monomials(samples.to(torch.float64), self.exponents).pow(2).mean(0).sqrt()  # (M,)
        self.register_buffer("basis_rms", rms.repeat_interleave(n).to(samples.dtype))
        # a polynomial flow can blow up in finite time: samples it carries beyond this radius are dropped
        self.register_buffer("bound", 4 * samples.abs().max())
        size = self.exponents.shape[0] * n
        self.coeffs = nn.Parameter(torch.randn(k, size, generator=rng) / size**0.5)

    @property
    def fields(self) -> torch.Tensor:
        """(k, M·n) the fields' coefficients in the monomial basis, rows of unit norm."""
        fields = self.coeffs / self.basis_rms
        return fields / fields.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def _moves(self) -> torch.Tensor:
        """(k, M·n) the fields scaled to move the samples by about 1 RMS each."""
        unit = self.coeffs / self.coeffs.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return unit / self.basis_rms

    def orthogonality(self) -> torch.Tensor:
        unit = self.coeffs / self.coeffs.norm(dim=1, keepdim=True).clamp_min(1e-12)
        gram = unit @ unit.T
        return torch.triu(gram, diagonal=1).pow(2).sum()

    def forward(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        k = self.coeffs.shape[0]
        z = self.coef_std * torch.randn(x.shape[0], k, generator=rng).to(x)
        coeffs = (z @ self._moves()).reshape(x.shape[0], -1, self.n)  # (B, M, n): one field per sample
        if self.degree == 1:  # V(x) = c + A x: exp of the affine (n+1)×(n+1) matrix [[A, c], [0, 0]]
            affine = x.new_zeros(x.shape[0], self.n + 1, self.n + 1)
            affine[:, : self.n, : self.n] = coeffs[:, 1:, :].transpose(1, 2)
            affine[:, : self.n, self.n] = coeffs[:, 0, :]
            group = torch.linalg.matrix_exp(affine)
            return (group[:, : self.n, : self.n] @ x[:, :, None]).squeeze(-1) + group[:, : self.n, self.n]
        return self._flow(x, coeffs)

    def _flow(self, x: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
        """RK4 with ``flow_steps`` steps of dx/dt = V(x) for t ∈ [0, 1]."""

        def velocity(p: torch.Tensor) -> torch.Tensor:  # clamped: finite values (and gradients) for every sample
            p = p.clamp(-self.bound, self.bound)
            return torch.einsum("bm,bmi->bi", monomials(p, self.exponents), coeffs)

        h = 1.0 / self.flow_steps
        for _ in range(self.flow_steps):
            k1 = velocity(x)
            k2 = velocity(x + 0.5 * h * k1)
            k3 = velocity(x + 0.5 * h * k2)
            k4 = velocity(x + h * k3)
            x = (x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)).clamp(-self.bound, self.bound)
        return x


class Discriminator(nn.Module):
    """MLP n → width → width → 1 logit (real)."""

    def __init__(self, n: int, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n, width), nn.LeakyReLU(0.2), nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class LieGAN(nn.Module):
    """Generator and discriminator in one module, so one optimizer and one checkpoint hold both.

    :meth:`loss` is the sum of the discriminator's loss (real vs. transformed, the transformed
    samples detached) and the generator's (non-saturating, through a copy of the discriminator's
    parameters that takes no gradient): one backward pass updates both players simultaneously.
    """

    def __init__(self, generator: FlowGenerator, discriminator: Discriminator, orthogonality: float) -> None:
        super().__init__()
        self.generator, self.discriminator, self.orthogonality = generator, discriminator, orthogonality

    def loss(self, real: torch.Tensor, source: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        fake = self.generator(source, rng)
        kept = torch.isfinite(fake).all(1) & (fake.detach().abs().amax(dim=1) < self.generator.bound)
        fake = fake[kept]
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        d_loss = d_loss + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        frozen = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        fooled = functional_call(self.discriminator, frozen, (fake,))
        g_loss = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
        return d_loss + g_loss + self.orthogonality * self.generator.orthogonality()
