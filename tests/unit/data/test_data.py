"""Datasets: synthetic rotation pairs, and MNIST-family files from the data root: round trips, damage, MD5 sums."""

import gzip
import math

import numpy as np
import pytest
import torch

from lconv_cli.data import make_rotation_pairs
from lconv_cli.data.images import load_cifar_dataset, load_idx_dataset, read_idx
from lconv_cli.errors import DataMissingError
from lconv_cli.lie import rotation_generator_2d
from tests.fake_datasets import CIFAR_LAYOUT, write_cifar_batch, write_idx
from tests.helpers import SHARED_DATA


def test_rotation_pairs_are_seeded_and_exact():
    rng = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    a = make_rotation_pairs(5, 64, (0.0, 30.0), "swi", rng())
    b = make_rotation_pairs(5, 64, (0.0, 30.0), "swi", rng())
    assert torch.equal(a.f, b.f) and torch.equal(a.theta, b.theta) and torch.equal(a.g, b.g)
    assert a.f.shape == (64, 25) and a.f.dtype == torch.float32
    assert float(a.f.min()) >= -0.5 and float(a.f.max()) < 0.5
    assert float(a.theta.min()) >= 0.0 and float(a.theta.max()) < math.radians(30.0)
    rot = torch.linalg.matrix_exp(float(a.theta[0]) * rotation_generator_2d(5))
    torch.testing.assert_close(a.g[0].double(), rot @ a.f[0].double(), rtol=0, atol=1e-6)
    # exp(θL) is orthogonal: norms are kept.
    torch.testing.assert_close(a.g.norm(dim=1), a.f.norm(dim=1), rtol=1e-5, atol=1e-5)


def test_idx_files_round_trip(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    write_idx(raw / "t10k-images-idx3-ubyte.gz", images)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.array([7, 0, 9]))
    x, y = load_idx_dataset("fashion_mnist", tmp_path, train=False, verify=False)
    assert x.dtype == torch.uint8 and torch.equal(x, torch.from_numpy(images.astype(np.uint8)))
    assert y.tolist() == [7, 0, 9] and y.dtype == torch.int64
    assert read_idx(raw / "t10k-labels-idx1-ubyte.gz").shape == (3,)


def test_missing_dataset_names_the_path_and_the_fixes(tmp_path):
    with pytest.raises(DataMissingError) as info:
        load_idx_dataset("mnist", tmp_path, train=True)
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte") in message
    assert "LCONV_DATA" in message and "data.download=true" in message and "\n" not in message


@pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw").is_dir(), reason="real MNIST not staged on this machine")
def test_real_mnist_from_the_shared_data_root():
    x, y = load_idx_dataset("mnist", SHARED_DATA, train=False)
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    assert torch.bincount(y).tolist()[:3] == [980, 1135, 1032]  # the official test-set class counts
    x, y = load_idx_dataset("fashion_mnist", SHARED_DATA, train=True)
    assert x.shape == (60000, 28, 28) and torch.bincount(y).tolist() == [6000] * 10


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_batches_round_trip(tmp_path, name):
    rng = np.random.default_rng(0)
    folder, key, train_files, test_file = CIFAR_LAYOUT[name]
    base = tmp_path / folder
    batches = [rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8) for _ in train_files]
    for file, images in zip(train_files, batches):
        write_cifar_batch(base, file, images, [1, 2], key)
    test_images = rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)
    write_cifar_batch(base, test_file, test_images, [9, 0, 4], key)
    x, y = load_cifar_dataset(name, tmp_path, train=True, verify=False)
    assert x.shape == (2 * len(train_files), 3, 32, 32) and x.dtype == torch.uint8
    assert torch.equal(x, torch.from_numpy(np.concatenate(batches))) and y.tolist() == [1, 2] * len(train_files)
    x, y = load_cifar_dataset(name, tmp_path, train=False, verify=False)
    assert torch.equal(x, torch.from_numpy(test_images)) and y.tolist() == [9, 0, 4] and y.dtype == torch.int64
    (base / train_files[-1]).unlink()
    with pytest.raises(DataMissingError, match=r"data.download=true") as info:
        load_cifar_dataset(name, tmp_path, train=True, verify=False)
    assert str(base / train_files[-1]) in str(info.value) and "\n" not in str(info.value)


def test_damaged_idx_file_is_named_by_the_reader(tmp_path):
    from lconv_cli.data.images import read_idx
    from lconv_cli.errors import DataCorruptError

    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5]))
    assert read_idx(path).tolist() == [1, 2, 3, 4, 5]
    path.write_bytes(path.read_bytes()[:-6])
    with pytest.raises(DataCorruptError, match=str(path)):
        read_idx(path)


def test_published_md5_sums_equal_torchvisions():
    from torchvision import datasets

    from lconv_cli.data.images import PUBLISHED_MD5

    assert PUBLISHED_MD5["MNIST"] == dict(datasets.MNIST.resources)
    assert PUBLISHED_MD5["FashionMNIST"] == dict(datasets.FashionMNIST.resources)
    assert PUBLISHED_MD5["cifar-10-batches-py"] == dict(datasets.CIFAR10.train_list + datasets.CIFAR10.test_list)
    assert PUBLISHED_MD5["cifar-100-python"] == dict(datasets.CIFAR100.train_list + datasets.CIFAR100.test_list)
