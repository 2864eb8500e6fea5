"""Pairs (f, exp(z D) f) of random 1D periodic signals and their Shannon–Whittaker shifts."""

from __future__ import annotations

import torch

from lconv_cli.data.rotation_pairs import PairSet
from lconv_cli.lie.expm import antisymmetric_expm_action
from lconv_cli.lie.shannon_whittaker import sw_derivative_matrix


def make_shift_pairs(d: int, num: int, shift_range: tuple[float, float], rng: torch.Generator) -> PairSet:
    """Draw ``num`` seeded pairs of length-d uniform-noise signals and their continuous shifts.

    g = exp(z D) f with D the SW derivative matrix and z ~ U[low, high) samples: the SW shift of
    the band-limited part of f, an exact one-parameter group with generator D (the Nyquist mode
    of an even d, which D annihilates, stays put). Computed exactly in float64.
    ``theta`` holds the shifts z.
    """
    low, high = (float(v) for v in shift_range)
    if not high >= low:
        raise ValueError(f"shift_range must be increasing, got {tuple(shift_range)}")
    f = torch.rand(num, d, generator=rng, dtype=torch.float64) - 0.5
    z = low + (high - low) * torch.rand(num, generator=rng, dtype=torch.float64)
    g = antisymmetric_expm_action(sw_derivative_matrix(d), z, f)
    return PairSet(f.float(), z.float(), g.float())
