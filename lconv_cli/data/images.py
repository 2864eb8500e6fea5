"""Image datasets in torchvision's on-disk layout, read without writing to the data root.

``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` and the same under
``<root>/FashionMNIST/raw``. Gzipped IDX files are read directly, so a read-only root (a shared
data folder) works. With ``download=True`` a missing dataset is fetched by torchvision (needs a
network connection and a writable root). CIFAR10/100 come with the image-classification experiment.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from lconv_cli.errors import DataMissingError

IDX_DATASETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
_IDX_DTYPE = {0x08: np.uint8}


def read_idx(path: Path) -> np.ndarray:
    """Decode an IDX file (optionally gzipped): big-endian magic, dims, then the data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPE:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=_IDX_DTYPE[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, file holds {data.size} values")
    return data.reshape(shape)


def _find(raw_dir: Path, stem: str) -> Path | None:
    for candidate in (raw_dir / stem, raw_dir / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_idx_dataset(name: str, root: str | Path, train: bool, download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 28, 28), labels int64 (N,)) of MNIST or FashionMNIST, official split.

    Raises:
        DataMissingError: the files are not under ``root`` and ``download`` is off; the message
            names the expected path and both fixes.
    """
    if name not in IDX_DATASETS:
        raise ValueError(f"unknown IDX dataset {name!r}; choose one of {sorted(IDX_DATASETS)}")
    folder = IDX_DATASETS[name]
    root = Path(root).expanduser()
    raw_dir = root / folder / "raw"
    prefix = "train" if train else "t10k"
    stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    paths = [_find(raw_dir, stem) for stem in stems]
    if any(p is None for p in paths) and download:
        import torchvision

        getattr(torchvision.datasets, folder)(str(root), train=train, download=True)
        paths = [_find(raw_dir, stem) for stem in stems]
    if any(p is None for p in paths):
        missing = stems[[p is None for p in paths].index(True)]
        raise DataMissingError(
            f"{folder} not found: expected {raw_dir / missing}[.gz]; set LCONV_DATA (or paths.data_dir) to the "
            f"folder that holds {folder}/, or add data.download=true on a machine with internet access"
        )
    images, labels = (read_idx(p) for p in paths)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{folder}: {images.shape[0]} images but {labels.shape[0]} labels")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))
