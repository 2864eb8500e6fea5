"""Tiny datasets written in the real on-disk formats (gzipped IDX, pickled CIFAR batches)."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

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


def fake_idx_dataset(root: Path, folder: str = "MNIST", num_train: int = 120, num_test: int = 40, seed: int = 0) -> Path:
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
