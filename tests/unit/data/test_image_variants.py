"""Image variants on fake data: rotation, the seeded scramble, rotate-then-scramble, the validation split."""

from __future__ import annotations

import pytest
import torch

from lconv_cli.data.image_variants import make_image_splits, rotate_images, scramble
from tests.fake_datasets import fake_image_root


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return fake_image_root(tmp_path_factory.mktemp("data"))


def test_rotation_turns_the_picture_and_zero_is_the_identity():
    image = torch.zeros(1, 1, 9, 9)
    image[0, 0, 4, 6] = 1.0  # right of the centre
    turned = rotate_images(image, torch.tensor([90.0]), "nearest")
    assert (turned[0, 0] > 0.5).nonzero().tolist() == [[2, 4]]  # above it: counter-clockwise as displayed
    x = torch.rand(3, 2, 28, 28)
    torch.testing.assert_close(rotate_images(x, torch.zeros(3)), x, rtol=0, atol=1e-5)


def test_scrambled_permutation_is_shared_across_splits_and_reruns(fake_root):
    plain = make_image_splits("mnist", fake_root, "plain", seed=3, verify=False)
    first = make_image_splits("mnist", fake_root, "scrambled", seed=3, verify=False)
    again = make_image_splits("mnist", fake_root, "scrambled", seed=3, verify=False)
    other = make_image_splits("mnist", fake_root, "scrambled", seed=4, verify=False)
    perm = first.permutation
    assert sorted(perm.tolist()) == list(range(784)) and not torch.equal(perm, torch.arange(784))
    assert torch.equal(perm, again.permutation) and not torch.equal(perm, other.permutation)
    for name in ("train_x", "val_x", "test_x"):
        torch.testing.assert_close(getattr(first, name), scramble(getattr(plain, name), perm))
        assert torch.equal(getattr(first, name), getattr(again, name))
    assert torch.equal(first.train_y, plain.train_y) and torch.equal(first.val_indices, plain.val_indices)


def test_rotation_is_seeded_and_rotate_then_scramble(fake_root):
    a = make_image_splits("fashion_mnist", fake_root, "rotated", seed=0, max_angle_deg=30, verify=False)
    b = make_image_splits("fashion_mnist", fake_root, "rotated", seed=0, max_angle_deg=30, verify=False)
    c = make_image_splits("fashion_mnist", fake_root, "rotated", seed=1, max_angle_deg=30, verify=False)
    assert torch.equal(a.train_angles, b.train_angles) and torch.equal(a.test_x, b.test_x)
    assert not torch.equal(a.train_angles, c.train_angles)
    assert a.train_angles.abs().max() <= 30 and a.train_angles.std() > 5 and a.permutation is None
    assert len(a.train_angles) == len(a.train_x) + len(a.val_x) and len(a.test_angles) == len(a.test_x)
    both = make_image_splits("fashion_mnist", fake_root, "rotated_scrambled", seed=0, max_angle_deg=30, verify=False)
    torch.testing.assert_close(both.test_x, scramble(a.test_x, both.permutation))


def test_validation_split_is_carved_from_train(fake_root):
    splits = make_image_splits("cifar10", fake_root, "plain", seed=0, val_fraction=0.25, verify=False)
    assert len(splits.val_x) == 25 and len(splits.train_x) == 75 and len(splits.test_x) == 20
    assert splits.image_shape == (3, 32, 32)
    torch.testing.assert_close(splits.train_x.mean(dim=(0, 2, 3)), torch.zeros(3), rtol=0, atol=1e-5)
