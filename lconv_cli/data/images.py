"""Image datasets in torchvision's on-disk layout, read without writing to the data root.

``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` and the same under
``<root>/FashionMNIST/raw``; ``<root>/cifar-10-batches-py/{data_batch_1..5,test_batch}`` and
``<root>/cifar-100-python/{train,test}`` (the pickled batches of the official archives). Files are
read directly, so a read-only root (a shared data folder) works. With ``download=True`` a missing
dataset is fetched by torchvision (needs a network connection and a writable root).
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import torch

from lconv_cli.errors import DataMissingError

IDX_DATASETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
# name: (folder, torchvision class, training batches, test batches, label key)
CIFAR_DATASETS = {
    "cifar10": ("cifar-10-batches-py", "CIFAR10", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels"),
    "cifar100": ("cifar-100-python", "CIFAR100", ["train"], ["test"], "fine_labels"),
}
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


def _missing(what: str, expected: str | Path, holds: str) -> DataMissingError:
    """The one-line error for a dataset that is not on disk: the expected path and both fixes."""
    return DataMissingError(
        f"{what} not found: expected {expected}; set LCONV_DATA (or paths.data_dir) to the folder that holds {holds}, "
        f"or add data.download=true on a machine with internet access"
    )


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
        raise _missing(folder, f"{raw_dir / missing}[.gz]", f"{folder}/")
    images, labels = (read_idx(p) for p in paths)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{folder}: {images.shape[0]} images but {labels.shape[0]} labels")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def read_cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of one pickled CIFAR batch.

    The official archives ship only as Python pickles; read them from trusted sources only.
    """
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="latin1")
    data, labels = batch["data"], batch[label_key]
    images = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(labels, dtype=np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{path}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def load_cifar_dataset(name: str, root: str | Path, train: bool, download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of CIFAR10 or CIFAR100 (fine labels), official split.

    Raises:
        DataMissingError: a batch file is missing and ``download`` is off (path and both fixes named).
    """
    if name not in CIFAR_DATASETS:
        raise ValueError(f"unknown CIFAR dataset {name!r}; choose one of {sorted(CIFAR_DATASETS)}")
    folder, tv_class, train_files, test_files, label_key = CIFAR_DATASETS[name]
    base = Path(root).expanduser() / folder
    paths = [base / f for f in (train_files if train else test_files)]
    if download and not all(p.is_file() for p in paths):
        import torchvision

        getattr(torchvision.datasets, tv_class)(str(Path(root).expanduser()), train=train, download=True)
    for path in paths:
        if not path.is_file():
            raise _missing(tv_class, path, f"{folder}/")
    parts = [read_cifar_batch(p, label_key) for p in paths]
    images = np.concatenate([im for im, _ in parts])
    labels = np.concatenate([lab for _, lab in parts])
    return torch.from_numpy(images), torch.from_numpy(labels)
