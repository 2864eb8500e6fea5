"""Image classification data: a dataset from disk, a variant (rotated / scrambled), and splits.

Variants (L-conv paper, SI D):
    plain              the images as they are;
    rotated            each image turned by its own angle, uniform in ±``max_angle_deg``;
    scrambled          ONE fixed pixel permutation applied to every image (train, validation
                       and test alike) and to all channels;
    rotated_scrambled  rotate, then scramble.

Every random draw (angles, permutation, validation split) comes from RNGs seeded by the
data seed, so the same seed gives the same images in every run and every split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lconv_cli.data.images import CIFAR_DATASETS, IDX_DATASETS, load_cifar_dataset, load_idx_dataset
from lconv_cli.train.seeding import seeded_rngs

DATASETS = (*IDX_DATASETS, *CIFAR_DATASETS)
VARIANTS = {
    "plain": (False, False),
    "rotated": (True, False),
    "scrambled": (False, True),
    "rotated_scrambled": (True, True),
}
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
VARIANT_STREAMS = ("train_angles", "test_angles", "permutation", "validation")  # the data seed's RNG streams, in order


def load_image_dataset(
    name: str, root: str, train: bool, download: bool = False, verify: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, C, H, W), labels int64 (N,)) of a named dataset's official split
    (``verify``: check the files against their published MD5 sums)."""
    if name in IDX_DATASETS:
        images, labels = load_idx_dataset(name, root, train, download, verify)
        return images[:, None], labels
    if name in CIFAR_DATASETS:
        return load_cifar_dataset(name, root, train, download, verify)
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def random_angles(count: int, max_angle_deg: float, rng: torch.Generator) -> torch.Tensor:
    """(count,) float64 angles in degrees, uniform in [−max_angle_deg, max_angle_deg)."""
    return (2 * torch.rand(count, generator=rng, dtype=torch.float64) - 1) * max_angle_deg


def rotate_images(
    images: torch.Tensor, angles_deg: torch.Tensor, interpolation: str = "bicubic", chunk: int = 4096
) -> torch.Tensor:
    """Turn each image about its centre by its own angle (counter-clockwise as displayed).

    Args:
        images: (N, C, H, W) float.
        angles_deg: (N,) angles in degrees.
        interpolation: ``bicubic`` (close to the official scipy cubic spline), ``bilinear`` or ``nearest``.
    Returns:
        (N, C, H, W) float, the same dtype; pixels from outside the frame repeat the border
        (the official ``mode='nearest'``); a zero angle returns the image to float rounding.
    """
    out = torch.empty_like(images)
    radians = angles_deg.to(images.dtype) * (math.pi / 180)
    for start in range(0, len(images), chunk):
        part, theta = images[start : start + chunk], radians[start : start + chunk]
        cos, sin = torch.cos(theta), torch.sin(theta)
        zeros = torch.zeros_like(cos)
        # output pixel (x, y) reads input at R(−θ)(x, y), in normalised coordinates (y down).
        affine = torch.stack([torch.stack([cos, -sin, zeros], -1), torch.stack([sin, cos, zeros], -1)], 1)
        grid = F.affine_grid(affine, list(part.shape), align_corners=False)
        out[start : start + chunk] = F.grid_sample(
            part, grid, mode=interpolation, padding_mode="border", align_corners=False
        )
    return out


def pixel_permutation(num_pixels: int, rng: torch.Generator) -> torch.Tensor:
    """(num_pixels,) int64, a uniformly random permutation of the pixel indices."""
    return torch.randperm(num_pixels, generator=rng)


def variant_permutation(seed: int, num_pixels: int) -> torch.Tensor:
    """The scrambled variants' pixel permutation for data seed ``seed``: the one every split of
    :func:`make_image_splits` uses, so other experiments (generator discovery) can share its pixel order."""
    return pixel_permutation(num_pixels, seeded_rngs(seed, *VARIANT_STREAMS)["permutation"])


def scramble(images: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    """Pixel i of every output image (all channels) is pixel ``permutation[i]`` of the input."""
    n, c, h, w = images.shape
    return images.reshape(n, c, h * w)[:, :, permutation].reshape(n, c, h, w)


@dataclass
class ImageSplits:
    """Float images (N, C, H, W), standardised with the training split's per-channel mean and std,
    and int64 labels; what the variant drew, kept for the run record."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    permutation: torch.Tensor | None
    train_angles: torch.Tensor | None
    test_angles: torch.Tensor | None
    val_indices: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])

    def record(self) -> dict[str, torch.Tensor | None]:
        """What makes the data reproducible without the seed: the permutation, the angles, the split."""
        return {
            "permutation": self.permutation,
            "train_angles_deg": self.train_angles,
            "test_angles_deg": self.test_angles,
            "val_indices": self.val_indices,
            "mean": self.mean,
            "std": self.std,
        }


def apply_variant(
    images: torch.Tensor,
    variant: str,
    angles: torch.Tensor | None,
    permutation: torch.Tensor | None,
    interpolation: str,
) -> torch.Tensor:
    """images uint8 (N, C, H, W) → float in [0, 1], rotated by ``angles`` and/or scrambled by ``permutation``."""
    rotate, scramble_pixels = VARIANTS[variant]
    x = images.float() / 255.0
    if rotate:
        x = rotate_images(x, angles, interpolation).clamp_(0.0, 1.0)
    if scramble_pixels:
        x = scramble(x, permutation)
    return x


def make_image_splits(
    name: str,
    root: str,
    variant: str,
    *,
    seed: int,
    max_angle_deg: float = 90.0,
    interpolation: str = "bicubic",
    val_fraction: float = 0.1,
    train_subset: int | None = None,
    test_subset: int | None = None,
    download: bool = False,
    verify: bool = True,
) -> ImageSplits:
    """Load ``name`` from ``root``, apply ``variant`` with draws seeded by ``seed``, carve validation from train.

    ``train_subset`` / ``test_subset`` keep the first N images of a split (smoke runs); the
    validation split is a seeded random ``val_fraction`` of the (kept) training images.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}; got {interpolation!r}")
    rngs = seeded_rngs(seed, *VARIANT_STREAMS)
    train_images, train_labels = load_image_dataset(name, root, train=True, download=download, verify=verify)
    test_images, test_labels = load_image_dataset(name, root, train=False, download=download, verify=verify)
    if train_subset:
        train_images, train_labels = train_images[:train_subset], train_labels[:train_subset]
    if test_subset:
        test_images, test_labels = test_images[:test_subset], test_labels[:test_subset]
    rotate, scramble_pixels = VARIANTS[variant]
    # The permutation is drawn for every variant, so adding one never shifts another draw.
    permutation = pixel_permutation(train_images.shape[2] * train_images.shape[3], rngs["permutation"])
    train_angles = random_angles(len(train_images), max_angle_deg, rngs["train_angles"]) if rotate else None
    test_angles = random_angles(len(test_images), max_angle_deg, rngs["test_angles"]) if rotate else None
    train_x = apply_variant(train_images, variant, train_angles, permutation, interpolation)
    test_x = apply_variant(test_images, variant, test_angles, permutation, interpolation)

    order = torch.randperm(len(train_x), generator=rngs["validation"])
    num_val = round(val_fraction * len(train_x))
    val_idx, fit_idx = order[:num_val].sort().values, order[num_val:].sort().values
    fit_x = train_x[fit_idx]
    mean = fit_x.mean(dim=(0, 2, 3))
    std = fit_x.std(dim=(0, 2, 3)).clamp_min(1e-6)

    def standardise(x: torch.Tensor) -> torch.Tensor:
        return (x - mean[:, None, None]) / std[:, None, None]

    return ImageSplits(
        train_x=standardise(fit_x),
        train_y=train_labels[fit_idx],
        val_x=standardise(train_x[val_idx]),
        val_y=train_labels[val_idx],
        test_x=standardise(test_x),
        test_y=test_labels,
        permutation=permutation if scramble_pixels else None,
        train_angles=train_angles,
        test_angles=test_angles,
        val_indices=val_idx,
        mean=mean,
        std=std,
    )
