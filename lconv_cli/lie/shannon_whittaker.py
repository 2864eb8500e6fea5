"""Shannon–Whittaker (SW) interpolation of periodic signals sampled on n points.

A signal sampled at integer positions 0..n-1 with period n is interpolated as
f(z) = Σ_ν f_ν Q(z − ν), with the periodic sinc kernel

    Q(z) = (1/n) [1 + 2 Σ_{p=1}^{⌈n/2⌉−1} cos(2πpz/n) + [n even]·w·cos(πz)],

where the Nyquist weight w is 1 (``nyquist="keep"``: the true band-limited
interpolant, Q(k) = δ_{k mod n, 0}) or 0 (``nyquist="drop"``: the L-conv
paper's sum over |p| < n/2). For odd n the two choices agree.

All functions return float64 tensors. Positions and shifts are in samples.
"""

from __future__ import annotations

import math

import torch

_NYQUIST = ("keep", "drop")


def _frequencies(n: int) -> torch.Tensor:
    """Positive frequencies p = 1..⌈n/2⌉−1 (the Nyquist term is handled apart)."""
    return torch.arange(1, (n + 1) // 2, dtype=torch.float64)


def _nyquist_weight(n: int, nyquist: str) -> float:
    if nyquist not in _NYQUIST:
        raise ValueError(f"nyquist must be one of {_NYQUIST}, got {nyquist!r}")
    return 1.0 if (n % 2 == 0 and nyquist == "keep") else 0.0


def sw_kernel(z: torch.Tensor, n: int, nyquist: str = "keep") -> torch.Tensor:
    """Periodic SW interpolation kernel Q(z), period n. ``z``: any shape, in samples."""
    z = torch.as_tensor(z, dtype=torch.float64)
    p = _frequencies(n)
    phase = 2 * math.pi * z[..., None] * p / n
    total = 1.0 + 2.0 * torch.cos(phase).sum(-1)
    total = total + _nyquist_weight(n, nyquist) * torch.cos(math.pi * z)
    return total / n


def sw_kernel_derivative(z: torch.Tensor, n: int, nyquist: str = "keep") -> torch.Tensor:
    """dQ/dz, period n. ``z``: any shape, in samples; result in 1/sample."""
    z = torch.as_tensor(z, dtype=torch.float64)
    p = _frequencies(n)
    phase = 2 * math.pi * z[..., None] * p / n
    total = -2.0 * (2 * math.pi * p / n * torch.sin(phase)).sum(-1)
    total = total - _nyquist_weight(n, nyquist) * math.pi * torch.sin(math.pi * z)
    return total / n


def _differences(n: int) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float64)
    return k[:, None] - k[None, :]


def sw_shift_matrix(n: int, shift: float, nyquist: str = "keep") -> torch.Tensor:
    """(n, n) matrix S with (S f)_ρ = f(ρ + shift), the SW interpolant read off ``shift`` samples ahead.

    For integer shifts and ``nyquist="keep"`` S is the cyclic permutation. The shifts form a
    group, S(a) S(b) = S(a + b), for odd n. For even n the Nyquist mode cos(πρ) spoils it:
    ``keep`` scales that mode by cos(πa), so S(a) S(b) − S(a + b) = sin(πa) sin(πb) P_N
    (P_N the projector on the mode), and ``drop`` zeroes it, so S(0) ≠ I.
    """
    return sw_kernel(_differences(n) + shift, n, nyquist)


def sw_derivative_matrix(n: int) -> torch.Tensor:
    """(n, n) antisymmetric matrix D with (D f)_ρ = f'(ρ) of the SW interpolant of f.

    The Nyquist mode cos(πz) has zero derivative on the grid, so D does not depend on
    the Nyquist choice. Closed form (entries at k = ρ − ν ≠ 0):
    (π/n)(−1)^k / sin(πk/n) for odd n, (π/n)(−1)^k cot(πk/n) for even n.
    """
    return sw_kernel_derivative(_differences(n), n, "drop")
