"""Image datasets in torchvision's on-disk layout, read without writing to the data root.

``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` and the same under
``<root>/FashionMNIST/raw``; ``<root>/cifar-10-batches-py/{data_batch_1..5,test_batch}`` and
``<root>/cifar-100-python/{train,test}`` (the pickled batches of the official archives). Files are
read directly, so a read-only root (a shared data folder) works. With ``download=True`` a missing
dataset is fetched by torchvision (needs a network connection and a writable root).

Each official file is checked against its published MD5 sum (the sums torchvision checks its
downloads against) the first time a process reads it (``verify=False`` skips this, for stand-in
data); a damaged file is a :class:`~lconv_cli.errors.DataCorruptError` naming it.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import zlib
from pathlib import Path

import numpy as np
import torch

from lconv_cli.errors import DataCorruptError, DataMissingError

IDX_DATASETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
# name: (folder, torchvision class, training batches, test batches, label key)
CIFAR_DATASETS = {
    "cifar10": ("cifar-10-batches-py", "CIFAR10", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels"),
    "cifar100": ("cifar-100-python", "CIFAR100", ["train"], ["test"], "fine_labels"),
}
_IDX_DTYPE = {0x08: np.uint8}
# The published MD5 sums of the official files, per dataset folder (equal to torchvision's, tested).
PUBLISHED_MD5 = {
    "MNIST": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "FashionMNIST": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "cifar-10-batches-py": {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
    },
    "cifar-100-python": {
        "train": "16019d7e3df5f24257cddd939b257f8d",
        "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
    },
}
_verified: set[tuple[str, int, int]] = set()  # (path, size, mtime) of the files this process has checked


def _corrupt(path: Path, problem: str) -> DataCorruptError:
    return DataCorruptError(
        f"{path} is damaged ({problem}); replace it with the published file "
        f"(data.download=true on a machine with internet access, after deleting it)"
    )


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path) -> None:
    """Compare an official file with its published MD5 sum, once per process (files without a
    published sum, e.g. unpacked IDX files, are checked by their readers instead)."""
    expected = PUBLISHED_MD5.get(path.parent.name if path.parent.name != "raw" else path.parent.parent.name, {}).get(
        path.name
    )
    if expected is None:
        return
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return
    actual = md5sum(path)
    if actual != expected:
        raise _corrupt(path, f"MD5 {actual}, the published file's is {expected}")
    _verified.add(key)


def read_idx(path: Path) -> np.ndarray:
    """Decode an IDX file (optionally gzipped): big-endian magic, dims, then the data.

    Raises:
        DataCorruptError: the file is truncated, not gzip, or not an unsigned-byte IDX file.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise _corrupt(path, str(error) or type(error).__name__) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPE:
        raise _corrupt(path, "not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=_IDX_DTYPE[raw[2]], offset=min(len(raw), 4 + 4 * ndim))
    if data.size != int(np.prod(shape)):
        raise _corrupt(path, f"header says {shape}, file holds {data.size} values")
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


def load_idx_dataset(
    name: str, root: str | Path, train: bool, download: bool = False, verify: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 28, 28), labels int64 (N,)) of MNIST or FashionMNIST, official split.

    Raises:
        DataMissingError: the files are not under ``root`` and ``download`` is off; the message
            names the expected path and both fixes.
        DataCorruptError: a file is damaged (with ``verify``: differs from the published file).
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
    if verify:
        for path in paths:
            verify_file(path)
    images, labels = (read_idx(p) for p in paths)
    if images.shape[0] != labels.shape[0]:
        raise _corrupt(paths[1], f"{labels.shape[0]} labels for {images.shape[0]} images")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def read_cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of one pickled CIFAR batch.

    The official archives ship only as Python pickles; read them from trusted sources only.
    """
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="latin1")
        data, labels = batch["data"], batch[label_key]
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as error:
        raise _corrupt(path, f"not a CIFAR batch: {type(error).__name__}") from None
    images = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(labels, dtype=np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{path}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def load_cifar_dataset(
    name: str, root: str | Path, train: bool, download: bool = False, verify: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of CIFAR10 or CIFAR100 (fine labels), official split.

    Raises:
        DataMissingError: a batch file is missing and ``download`` is off (path and both fixes named).
        DataCorruptError: a batch file is damaged (with ``verify``: differs from the published file).
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
        if verify:
            verify_file(path)
    parts = [read_cifar_batch(p, label_key) for p in paths]
    images = np.concatenate([im for im, _ in parts])
    labels = np.concatenate([lab for _, lab in parts])
    return torch.from_numpy(images), torch.from_numpy(labels)
