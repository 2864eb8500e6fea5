"""1D shift pairs are exact Shannon–Whittaker shifts."""

import math

import pytest
import torch

from lconv_cli.data import make_shift_pairs
from lconv_cli.lie import sw_shift_matrix


@pytest.mark.parametrize("d", [9, 10])
def test_shift_pairs_are_exact_sw_shifts(d):
    pairs = make_shift_pairs(d, 16, (-1.0, 1.0), torch.Generator().manual_seed(0))
    nyquist = torch.zeros(d, d, dtype=torch.float64)
    if d % 2 == 0:  # exp(zD) leaves the Nyquist mode alone, the paper's g(z) drops it
        mode = torch.cos(math.pi * torch.arange(d, dtype=torch.float64))
        nyquist = torch.outer(mode, mode) / d
    for f, z, g in zip(pairs.f.double(), pairs.theta.double(), pairs.g.double()):
        expected = (sw_shift_matrix(d, float(z), "drop") + nyquist) @ f
        torch.testing.assert_close(g, expected, rtol=0, atol=2e-6)
