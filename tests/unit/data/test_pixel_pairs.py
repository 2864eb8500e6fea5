"""Transformation pairs of real images: the SW action, resampling to first order, and the pixel order."""

import pytest
import torch

from lconv_cli.data.image_variants import make_image_splits, variant_permutation
from lconv_cli.data.pixel_pairs import exp_action, make_pixel_pairs, resample, true_generators
from lconv_cli.lie import generator_cos
from tests.fake_datasets import fake_idx_dataset


def _smooth_image(n: int = 16) -> torch.Tensor:
    """(1, 1, n, n) float64 Gaussian blob off the centre (band-limited enough for the SW generators)."""
    c = torch.arange(n, dtype=torch.float64) - (n - 1) / 2
    y, x = torch.meshgrid(c, c, indexing="ij")
    return torch.exp(-((x - 1.0) ** 2 + (y + 0.5) ** 2 * 1.5) / 8)[None, None]


def test_exp_action_is_the_matrix_exponential_of_the_sum():
    rng = torch.Generator().manual_seed(0)
    generators = torch.randn(3, 5, 5, generator=rng, dtype=torch.float64)
    t = 0.3 * torch.randn(4, 3, generator=rng, dtype=torch.float64)
    f = torch.randn(4, 5, generator=rng, dtype=torch.float64)
    expected = torch.stack(
        [torch.linalg.matrix_exp(torch.einsum("k,kij->ij", ti, generators)) @ fi for fi, ti in zip(f, t)]
    )
    torch.testing.assert_close(exp_action(generators, t, f), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["tx", "ty", "rotation", "scale"])
def test_resampling_moves_images_along_the_same_generator_to_first_order(name):
    image = _smooth_image()
    step = 1e-3
    moved = resample(image, [name], torch.full((1, 1), step, dtype=torch.float64), "bicubic")
    derivative = ((moved - image) / step).reshape(-1)
    exact = true_generators([name], 16)[0] @ image.reshape(-1)
    assert generator_cos(derivative[None], exact[None]) > 0.99  # same direction and sign (cos without |·|)
    assert float((derivative * exact).sum()) > 0


def test_scrambled_pairs_and_generators_share_the_classifiers_permutation(tmp_path):
    root = fake_idx_dataset(tmp_path, num_train=30, num_test=10)
    splits = make_image_splits("mnist", str(root), "scrambled", seed=3, verify=False)
    permutation = variant_permutation(3, 784)
    assert torch.equal(permutation, splits.permutation)
    images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    rng = torch.Generator().manual_seed(0)
    plain = make_pixel_pairs(images, ["rotation"], 0.01, "sw", rng)
    scrambled = make_pixel_pairs(images, ["rotation"], 0.01, "sw", torch.Generator().manual_seed(0), permutation)
    assert torch.equal(scrambled.f, plain.f[:, permutation]) and torch.equal(scrambled.g, plain.g[:, permutation])
    truth = true_generators(["rotation"], 28, permutation)[0]
    torch.testing.assert_close(
        scrambled.f @ truth.T, (plain.f @ true_generators(["rotation"], 28)[0].T)[:, permutation]
    )
    with pytest.raises(ValueError, match="unknown transformation 'shear'"):
        true_generators(["shear"], 28)
