"""Tiny datasets: files in the real on-disk formats (gzipped IDX, pickled CIFAR batches), and in-memory inputs
(spring systems, a smooth image, transformation families) shared by tests in several folders."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import torch

from lconv_cli.data.symmetry_pairs import pixel_points

CIFAR_LAYOUT = {  # name: (folder, label key, training files, test file)
    "cifar10": ("cifar-10-batches-py", "labels", [f"data_batch_{i}" for i in range(1, 6)], "test_batch"),
    "cifar100": ("cifar-100-python", "fine_labels", ["train"], "test"),
}


def write_idx(path: Path, array: np.ndarray) -> None:
    """A gzipped unsigned-byte IDX file, as torchvision's MNIST folders hold them."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def write_cifar_batch(base: Path, name: str, images: np.ndarray, labels: list[int], key: str) -> None:
    """One pickled batch of the official CIFAR archives: a dict with flat uint8 rows and labels."""
    base.mkdir(parents=True, exist_ok=True)
    with open(base / name, "wb") as handle:
        pickle.dump({"data": images.reshape(len(labels), -1), key: labels, "batch_label": name}, handle, protocol=2)


def fake_idx_dataset(
    root: Path, folder: str = "MNIST", num_train: int = 120, num_test: int = 40, seed: int = 0
) -> Path:
    """Random 28×28 images with 10 labels under ``root/folder/raw``; returns ``root``."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", num_train), ("t10k", num_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, count))
    return Path(root)


def fake_cifar_dataset(root: Path, name: str, per_batch: int = 20, num_test: int = 20, seed: int = 0) -> Path:
    """Random 3×32×32 images in the official pickled batches of ``name``; returns ``root``."""
    rng = np.random.default_rng(seed)
    folder, key, train_files, test_file = CIFAR_LAYOUT[name]
    classes = 10 if name == "cifar10" else 100
    for file, count in [*((f, per_batch) for f in train_files), (test_file, num_test)]:
        images = rng.integers(0, 256, (count, 3, 32, 32), dtype=np.uint8)
        write_cifar_batch(Path(root) / folder, file, images, rng.integers(0, classes, count).tolist(), key)
    return Path(root)


def fake_image_root(root: Path) -> Path:
    """MNIST, FashionMNIST, CIFAR-10 and CIFAR-100 under ``root``, as the image-classification tests use them."""
    fake_idx_dataset(root, "MNIST", seed=0)
    fake_idx_dataset(root, "FashionMNIST", seed=1)
    fake_cifar_dataset(root, "cifar10", seed=2)
    fake_cifar_dataset(root, "cifar100", seed=3)
    return Path(root)


def random_systems(count: int, n: int = 6, seed: int = 0):
    """``count`` seeded float64 spring systems of ``n`` bodies: states (count, 2, n, 2), masses, spring constants."""
    g = torch.Generator().manual_seed(seed)
    masses = 0.1 + 3 * torch.rand(count, n, generator=g, dtype=torch.float64)
    springs = 5 * torch.rand(count, n, generator=g, dtype=torch.float64)
    z = (
        torch.randn(count, 2, n, 2, generator=g, dtype=torch.float64)
        * torch.tensor([0.4, 0.6], dtype=torch.float64)[:, None, None]
    )
    return z, masses, springs


FAMILIES = {
    "tx": {"translation_x": 1.0},
    "ty": {"translation_y": 1.0},
    "rotation": {"rotation": 1.0},
    "scale": {"scaling": 1.0},
    "shear": {"shear": 1.0},
    "sct_x": {"sct_x": 1.0},
    "sct_y": {"sct_y": 1.0},
    "rotation_scale": {"rotation": 1.0, "scaling": 1.0},
    "rotation_tx": {"rotation": 1.0, "translation_x": 1.0},
    "sct_x_tx": {"sct_x": 1.0, "translation_x": 1.0},  # no closed form: the RK4 path
}


def smooth_image(n: int = 28, width: float = 0.25) -> torch.Tensor:
    """(n, n) float64 off-centre elongated Gaussian blob, values in (0, 1], zero to 1e-6 at the border."""
    p = pixel_points(n)
    x, y = p[:, 0] - 0.1, p[:, 1] + 0.05
    return torch.exp(-(x**2 / (2 * width**2) + y**2 / (2 * (0.7 * width) ** 2) + 1.5 * x * y)).reshape(n, n)
