"""Rotated MNIST: the 12k train / 50k test protocol of Larochelle et al. (2007), as LieConv uses it.

Two sources:

- ``mnist_rotation_new.zip`` (or its extracted ``.amat`` files) under ``<root>/mnist_rotation_new/``,
  when a user provides it: 12,000 training and 50,000 test rows of 784 floats in [0, 1] and a label,
  each reshaped to 28 × 28 as stored (as the official loader does).
- otherwise, built from the MNIST files under ``<root>/MNIST/``: the 70,000 official images are
  permuted with ``seed``; the first 12,000 are the training set and the next 50,000 the test set
  (disjoint digits), each rotated by its own angle θ ~ U[0, 2π) with bilinear interpolation (MNIST's zero border
  fills the corners).
  (A smaller stand-in MNIST is split in the same 12 : 50 proportion.)

Images are returned as float32 (N, 1, 28, 28) in [0, 1], with int64 labels; normalisation
(mean 0.130, std 0.297, the official constants) is the experiment's job.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import torch

from lconv_cli.data.image_variants import rotate_images
from lconv_cli.data.images import load_idx_dataset

TRAIN_SIZE, TEST_SIZE = 12_000, 50_000
AMAT_FILES = {
    "train": "mnist_all_rotation_normalized_float_train_valid.amat",
    "test": "mnist_all_rotation_normalized_float_test.amat",
}
MEAN, STD = 0.130, 0.297


def _read_amat(text: str) -> tuple[torch.Tensor, torch.Tensor]:
    rows = np.loadtxt(io.StringIO(text), dtype=np.float32)
    images = torch.from_numpy(rows[:, :784].copy()).view(-1, 1, 28, 28)
    return images, torch.from_numpy(rows[:, 784].astype(np.int64))


def load_larochelle(root: str | Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]] | None:
    """The original files if present under ``<root>/mnist_rotation_new/`` (zip or extracted), else None."""
    folder = Path(root).expanduser() / "mnist_rotation_new"
    texts: dict[str, str] = {}
    if (folder / "mnist_rotation_new.zip").exists():
        with zipfile.ZipFile(folder / "mnist_rotation_new.zip") as archive:
            for name in archive.namelist():
                for split, stem in AMAT_FILES.items():
                    if name.endswith(stem):
                        texts[split] = archive.read(name).decode()
    for split, stem in AMAT_FILES.items():
        if split not in texts and (folder / stem).exists():
            texts[split] = (folder / stem).read_text()
    if len(texts) < 2:
        return None
    return {split: _read_amat(texts[split]) for split in AMAT_FILES}


def make_rotated_mnist(
    root: str | Path, seed: int = 0, download: bool = False, verify: bool = True
) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], str]:
    """({"train": (images, labels), "test": (images, labels)}, source description); ``verify``
    checks the MNIST files against their published MD5 sums."""
    original = load_larochelle(root)
    if original is not None:
        return original, "mnist_rotation_new (Larochelle et al.)"
    train_x, train_y = load_idx_dataset("mnist", root, train=True, download=download, verify=verify)
    test_x, test_y = load_idx_dataset("mnist", root, train=False, download=download, verify=verify)
    images = torch.cat([train_x, test_x]).float().div_(255)[:, None]
    labels = torch.cat([train_y, test_y])
    rng = torch.Generator().manual_seed(seed)
    total = min(len(images), TRAIN_SIZE + TEST_SIZE)  # fewer only for small stand-in datasets (tests)
    train_size = TRAIN_SIZE * total // (TRAIN_SIZE + TEST_SIZE)
    order = torch.randperm(len(images), generator=rng)[:total]
    angles = 360.0 * torch.rand(total, generator=rng)
    rotated = torch.cat(
        [
            rotate_images(images[chunk], angles[i : i + len(chunk)], "bilinear")
            for i, chunk in enumerate_chunks(order, 5000)
        ]
    )
    splits = {
        "train": (rotated[:train_size], labels[order[:train_size]]),
        "test": (rotated[train_size:], labels[order[train_size:]]),
    }
    return splits, f"MNIST rotated by seeded U[0, 2π) angles (data seed {seed})"


def enumerate_chunks(index: torch.Tensor, size: int):
    """(start, index[start:start + size]) pairs."""
    return ((start, index[start : start + size]) for start in range(0, len(index), size))
