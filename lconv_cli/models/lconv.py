"""The L-conv layer (Dehmamy et al. 2021) and the small models of the paper's discovery experiments.

An L-conv layer acts on features f of shape (B, d, C_in), d the number of pixels (or sites):

    out = f W_0ᵀ + Σ_{i=1..k} (L_i f) W_iᵀ        (W_i: C_out × C_in channel mixing, L_i: d × d)

The generators L_i are learned, or fixed (a buffer) when given, e.g. loaded from a generators
file written by a discovery run (:mod:`lconv_cli.data.generators_file`).
"""

from __future__ import annotations

import math

import torch
from torch import nn


@torch.no_grad()
def seeded_linear_init(layer: nn.Linear, rng: torch.Generator | None, zero_bias: bool = False) -> None:
    """torch's default Linear init, U(±1/√fan_in), drawn from ``rng`` (bias zeroed if asked)."""
    bound = 1.0 / math.sqrt(layer.in_features)
    layer.weight.copy_((2 * torch.rand(layer.weight.shape, generator=rng) - 1) * bound)
    if zero_bias:
        layer.bias.zero_()
    else:
        layer.bias.copy_((2 * torch.rand(layer.bias.shape, generator=rng) - 1) * bound)


def paper_init_stds(dim: int, in_channels: int, out_channels: int) -> dict[str, float]:
    """The official code's L-conv init: ``kaiming_normal_`` on L (k, d, d) and W (k, C_out, C_in).

    torch takes fan_in = size(1)·prod(size(2:)), i.e. d² for L and C_out·C_in for W, so the entries
    have std √2/d and √(2/(C_out·C_in)): L starts with ‖L h‖ ≈ √(2/d)‖h‖, close to the identity
    step of a residual layer. The recursive angle model depends on this small start: at 7×7 with
    the √(2/d) default, L ended at |cos| 0.03 to L_SW; with this start, 0.34–0.69 over 10 seeds.
    """
    return {"generator_std": math.sqrt(2.0) / dim, "weight_std": math.sqrt(2.0 / (in_channels * out_channels))}


PARAMETRISATIONS = ("dense", "low_rank", "fixed", "fixed_low_rank")
BIASES = ("none", "shared", "per_term")
ACTIVATIONS = {"none": nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh}


class LConv(nn.Module):
    """One L-conv layer on features f of shape (B, d, C_in), d pixels (or sites), C_in channels:

        Q[f] = σ( f W_0ᵀ + Σ_{i=1..k} (L_i f) W_iᵀ + b )        (L_i: d × d, W_i: C_out × C_in)

    Args:
        dim: d, the number of pixels the generators act on.
        num_generators: k, the number of generators L_i.
        in_channels: C_in.
        out_channels: C_out.
        parametrisation: ``dense`` (each L_i a free d × d matrix), ``low_rank`` (L_i = A_i B_i with
            A_i: d × r, B_i: r × d; 2dr parameters instead of d²) or ``fixed`` (``fixed_generators``
            kept as a buffer, not trained: from the symmetry toolkit or a discovery run's file), or
            ``fixed_low_rank`` (L_i = F_i + A_i B_i: the fixed generators F_i plus a learned rank-r
            correction that starts at zero, A_i = 0, so the layer starts as the fixed one).
        rank: r for ``low_rank`` and ``fixed_low_rank``.
        identity_term: include the W_0 f term (the zeroth "generator" is the identity).
        fixed_generators: (k, d, d) generators; giving them implies ``parametrisation="fixed"``
            unless it is ``fixed_low_rank``.
        bias: ``none``; ``shared`` (one C_out vector); ``per_term`` (one C_out vector per term,
            (k + 1) C_out numbers: redundant, as they add up, but it is the official Keras layer's
            parameter count).
        activation: ``none``, ``relu`` or ``tanh`` (σ above).
        rng: torch.Generator for the initialisation (None: torch's global RNG).
        generator_std: standard deviation of the initial L_i entries (dense).
        weight_std: standard deviation of the initial W_i entries.
            The defaults of the two, √(2/d) and √(2/C_in), keep ‖L f‖ ≈ √2‖f‖ per generator (low
            rank: B_i entries have std √(1/d) and A_i entries √(2/r), the same scale). ``torch.nn.init.kaiming_normal_``
            on the (k, d, d) and (k, C_out, C_in) tensors, as the official code does, gives the much
            smaller √2/d and √(2/(C_out·C_in)) (see :func:`paper_init_stds`).
    """

    def __init__(
        self,
        dim: int,
        num_generators: int,
        in_channels: int,
        out_channels: int,
        *,
        parametrisation: str = "dense",
        rank: int | None = None,
        identity_term: bool = True,
        fixed_generators: torch.Tensor | None = None,
        bias: str = "none",
        activation: str = "none",
        rng: torch.Generator | None = None,
        generator_std: float | None = None,
        weight_std: float | None = None,
    ) -> None:
        super().__init__()
        if fixed_generators is not None and parametrisation != "fixed_low_rank":
            parametrisation = "fixed"
        for value, allowed, name in (
            (parametrisation, PARAMETRISATIONS, "parametrisation"),
            (bias, BIASES, "bias"),
            (activation, tuple(ACTIVATIONS), "activation"),
        ):
            if value not in allowed:
                raise ValueError(f"LConv {name} must be one of {', '.join(allowed)}; got {value!r}")
        self.dim, self.num_generators = dim, num_generators
        self.parametrisation = parametrisation
        self.identity_term = identity_term
        if parametrisation in ("fixed", "fixed_low_rank"):
            if fixed_generators is None:
                raise ValueError(f"LConv: parametrisation {parametrisation!r} needs fixed_generators")
            fixed = torch.as_tensor(fixed_generators, dtype=torch.float32)
            if fixed.shape != (num_generators, dim, dim):
                raise ValueError(
                    f"fixed generators have shape {tuple(fixed.shape)}, the layer needs {(num_generators, dim, dim)}"
                )
            self.register_buffer("generators", fixed.clone())
            if parametrisation == "fixed_low_rank":
                if not rank or rank < 1:
                    raise ValueError("LConv: parametrisation 'fixed_low_rank' needs a rank r ≥ 1")
                self.right = nn.Parameter(math.sqrt(1.0 / dim) * torch.randn(num_generators, rank, dim, generator=rng))
                self.left = nn.Parameter(torch.zeros(num_generators, dim, rank))
        elif parametrisation == "dense":
            std = math.sqrt(2.0 / dim) if generator_std is None else generator_std
            self.generators = nn.Parameter(std * torch.randn(num_generators, dim, dim, generator=rng))
        else:
            if not rank or rank < 1:
                raise ValueError("LConv: parametrisation 'low_rank' needs a rank r ≥ 1")
            self.right = nn.Parameter(math.sqrt(1.0 / dim) * torch.randn(num_generators, rank, dim, generator=rng))
            self.left = nn.Parameter(math.sqrt(2.0 / rank) * torch.randn(num_generators, dim, rank, generator=rng))
        num_terms = num_generators + int(identity_term)
        std = math.sqrt(2.0 / in_channels) if weight_std is None else weight_std
        self.weights = nn.Parameter(std * torch.randn(num_terms, out_channels, in_channels, generator=rng))
        bias_shape = {"none": None, "shared": (out_channels,), "per_term": (num_terms, out_channels)}[bias]
        self.bias = nn.Parameter(torch.zeros(bias_shape)) if bias_shape else None
        self.activation = ACTIVATIONS[activation]()

    @property
    def generator_matrices(self) -> torch.Tensor:
        """(k, d, d) the generators L_i (for low rank, the products A_i B_i)."""
        if self.parametrisation == "low_rank":
            return self.left @ self.right
        if self.parametrisation == "fixed_low_rank":
            return self.generators + self.left @ self.right
        return self.generators

    def apply_generators(self, f: torch.Tensor) -> torch.Tensor:
        """f: (B, d, C) → (B, k, d, C), the stack of L_i f."""
        low_rank = None
        if self.parametrisation in ("low_rank", "fixed_low_rank"):
            low_rank = torch.einsum("kdr,bkrc->bkdc", self.left, torch.einsum("krj,bjc->bkrc", self.right, f))
            if self.parametrisation == "low_rank":
                return low_rank
        fixed = torch.einsum("kij,bjc->bkic", self.generators, f)
        return fixed if low_rank is None else fixed + low_rank

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """f: (B, d, C_in) → (B, d, C_out)."""
        first = int(self.identity_term)
        out = torch.einsum("bkic,koc->bio", self.apply_generators(f), self.weights[first:])
        if self.identity_term:
            out = out + f @ self.weights[0].T
        if self.bias is not None:
            out = out + (self.bias.sum(0) if self.bias.ndim == 2 else self.bias)
        return self.activation(out)


class RecursiveAngleNet(nn.Module):
    """The paper's "recursive L-conv" angle regressor (SI C, official notebooks).

    The image f is copied into C channels; one residual L-conv step h ← h + W (L h), with a
    single shared generator L, is applied ``rec`` times; the C channels are dotted with the
    rotated image g, and tanh → Linear(C, hidden) → tanh → Linear(hidden, 1) regresses θ.
    L and W start as in the official code (:func:`paper_init_stds`).

    Args:
        dim: d = n² pixels.
        channels: C (10 in the paper).
        rec: number of recursive applications (3 at 7×7, 8 at 20×20 in the paper).
        hidden: hidden width of the readout (5 in the paper).
        fixed_generator: (1, d, d) generator to keep fixed; None learns it.
    """

    def __init__(
        self,
        dim: int,
        channels: int = 10,
        rec: int = 3,
        hidden: int = 5,
        fixed_generator: torch.Tensor | None = None,
        rng: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.rec = rec
        self.core = LConv(
            dim,
            1,
            channels,
            channels,
            identity_term=False,
            fixed_generators=fixed_generator,
            rng=rng,
            **paper_init_stds(dim, channels, channels),
        )
        self.readout = nn.Sequential(nn.Tanh(), nn.Linear(channels, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        for layer in (self.readout[1], self.readout[3]):  # seeded init of the readout too
            seeded_linear_init(layer, rng)

    @property
    def generator_matrix(self) -> torch.Tensor:
        """(d, d) the shared generator L."""
        return self.core.generators[0]

    def forward(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """f, g: (B, d) image and rotated image → (B,) predicted θ."""
        h = f[:, :, None].expand(-1, -1, self.channels)
        for _ in range(self.rec):
            h = h + self.core(h)
        scores = torch.einsum("bic,bi->bc", h, g)
        return self.readout(scores)[:, 0]


class FixedAngleStep(nn.Module):
    """The paper's fixed-angle model: one L-conv step y = f + w·(L f) for pairs at one angle θ.

    At convergence w·L = T(θ) − I, so the learned generator is w·L/θ.
    """

    def __init__(self, dim: int, rng: torch.Generator | None = None) -> None:
        super().__init__()
        self.layer = LConv(dim, 1, 1, 1, identity_term=False, rng=rng)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """f: (B, d) → (B, d)."""
        return f + self.layer(f[:, :, None])[:, :, 0]

    def generator_matrix(self, theta: float) -> torch.Tensor:
        """(d, d) the learned generator w·L/θ."""
        return self.layer.weights[0, 0, 0] * self.layer.generators[0] / theta
