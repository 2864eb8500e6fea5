"""Shannon–Whittaker operators against closed forms, in float64."""

import math

import pytest
import torch

from lconv_cli.lie import sw_derivative_matrix, sw_kernel, sw_kernel_derivative, sw_shift_matrix

SIZES = [3, 4, 7, 8, 20, 21]


def closed_form_derivative(n: int) -> torch.Tensor:
    """Trefethen's Fourier differentiation matrix with unit spacing (Spectral Methods in MATLAB, ch. 3)."""
    k = torch.arange(n, dtype=torch.float64)
    z = k[:, None] - k[None, :]
    out = torch.zeros(n, n, dtype=torch.float64)
    off = z != 0
    sign = torch.cos(math.pi * z[off])
    if n % 2:
        out[off] = (math.pi / n) * sign / torch.sin(math.pi * z[off] / n)
    else:
        out[off] = (math.pi / n) * sign / torch.tan(math.pi * z[off] / n)
    return out


@pytest.mark.parametrize("n", SIZES)
def test_derivative_matrix_matches_closed_form(n):
    torch.testing.assert_close(sw_derivative_matrix(n), closed_form_derivative(n), rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", SIZES)
def test_derivative_is_antisymmetric_and_circulant(n):
    d = sw_derivative_matrix(n)
    torch.testing.assert_close(d, -d.T, rtol=0, atol=1e-14)
    torch.testing.assert_close(torch.roll(torch.roll(d, 1, 0), 1, 1), d, rtol=0, atol=1e-13)


@pytest.mark.parametrize("n", SIZES)
def test_derivative_is_exact_on_band_limited_signals(n):
    x = torch.arange(n, dtype=torch.float64)
    d = sw_derivative_matrix(n)
    for p in range(1, (n + 1) // 2):
        w = 2 * math.pi * p / n
        torch.testing.assert_close(d @ torch.sin(w * x), w * torch.cos(w * x), rtol=0, atol=1e-11)
        torch.testing.assert_close(d @ torch.cos(w * x), -w * torch.sin(w * x), rtol=0, atol=1e-11)
    torch.testing.assert_close(
        d @ torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64), atol=1e-12, rtol=0
    )


@pytest.mark.parametrize("n", SIZES)
def test_kernel_closed_form(n):
    z = torch.linspace(0.013, n - 0.013, 97, dtype=torch.float64)
    if n % 2:
        expected = torch.sin(math.pi * z) / (n * torch.sin(math.pi * z / n))
    else:
        expected = torch.sin(math.pi * z) / (n * torch.tan(math.pi * z / n))
    torch.testing.assert_close(sw_kernel(z, n, "keep"), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", SIZES)
def test_kernel_interpolates_and_drop_removes_nyquist(n):
    k = torch.arange(-n, 2 * n, dtype=torch.float64)
    delta = (torch.remainder(k, n) == 0).double()
    torch.testing.assert_close(sw_kernel(k, n, "keep"), delta, rtol=0, atol=1e-12)
    nyquist = torch.cos(math.pi * k) / n if n % 2 == 0 else torch.zeros_like(k)
    torch.testing.assert_close(sw_kernel(k, n, "drop"), delta - nyquist, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [7, 8])
@pytest.mark.parametrize("nyquist", ["keep", "drop"])
def test_kernel_derivative_matches_finite_difference(n, nyquist):
    z = torch.linspace(0.1, n - 0.1, 31, dtype=torch.float64)
    h = 1e-6
    numeric = (sw_kernel(z + h, n, nyquist) - sw_kernel(z - h, n, nyquist)) / (2 * h)
    torch.testing.assert_close(sw_kernel_derivative(z, n, nyquist), numeric, rtol=0, atol=1e-7)


@pytest.mark.parametrize("n", SIZES)
def test_integer_shift_is_cyclic_permutation(n):
    f = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    for s in (0, 1, 2, -3):
        torch.testing.assert_close(sw_shift_matrix(n, s) @ f, torch.roll(f, -s), rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("nyquist", ["keep", "drop"])
def test_shift_group_law_and_its_nyquist_defect(n, nyquist):
    a, b = 0.37, 1.81
    defect = sw_shift_matrix(n, a, nyquist) @ sw_shift_matrix(n, b, nyquist) - sw_shift_matrix(n, a + b, nyquist)
    expected = torch.zeros(n, n, dtype=torch.float64)
    if n % 2 == 0 and nyquist == "keep":
        mode = torch.cos(math.pi * torch.arange(n, dtype=torch.float64))
        expected = math.sin(math.pi * a) * math.sin(math.pi * b) * torch.outer(mode, mode) / n
    torch.testing.assert_close(defect, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [3, 7, 21])
def test_odd_shift_is_exponential_of_derivative(n):
    for z in (0.25, 1.5, -2.7):
        torch.testing.assert_close(
            sw_shift_matrix(n, z), torch.linalg.matrix_exp(z * sw_derivative_matrix(n)), rtol=0, atol=1e-11
        )


def test_bad_nyquist_choice_is_rejected():
    with pytest.raises(ValueError, match="nyquist"):
        sw_kernel(torch.zeros(1), 4, "half")
