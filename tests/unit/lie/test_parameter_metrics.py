"""Parameter metrics are sign invariant: coefficient cosine, R² and the 1D Wasserstein distance."""

from __future__ import annotations

import pytest
import torch

from lconv_cli.lie import coefficient_cos
from lconv_cli.lie.parameter_metrics import r2_score, wasserstein_1d


def test_metrics_are_sign_invariant():
    a = torch.randn(12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    b = torch.randn(12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert coefficient_cos(-a, b) == pytest.approx(coefficient_cos(a, b))
    assert coefficient_cos(a, 3 * a) == pytest.approx(1.0)
    t = torch.linspace(-1, 1, 101, dtype=torch.float64)
    noisy = t + 0.1 * torch.sin(7 * t)
    assert r2_score(-2 * noisy + 5, t) == pytest.approx(r2_score(noisy, t))
    assert r2_score(-t, t) == pytest.approx(1.0)
    assert wasserstein_1d(t + 0.25, t) == pytest.approx(0.25)
    assert wasserstein_1d(t.flip(0), t) == pytest.approx(0.0)
