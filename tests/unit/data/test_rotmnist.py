"""Rotated MNIST: the seeded protocol drawn from MNIST, and the original Larochelle files preferred."""

from __future__ import annotations

import zipfile

import pytest
import torch

from lconv_cli.data.rotmnist import make_rotated_mnist
from tests.fake_datasets import fake_idx_dataset


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return fake_idx_dataset(tmp_path_factory.mktemp("data"), "MNIST", num_train=200, num_test=110, seed=0)


def test_rotated_mnist_protocol_is_seeded_and_disjoint(fake_root):
    splits, source = make_rotated_mnist(fake_root, seed=0, verify=False)
    again, _ = make_rotated_mnist(fake_root, seed=0, verify=False)
    other, _ = make_rotated_mnist(fake_root, seed=1, verify=False)
    assert "seeded" in source
    train_x, _train_y = splits["train"]
    test_x, _ = splits["test"]
    assert len(train_x) == 310 * 12 // 62 and len(test_x) == 310 - len(train_x)  # the 12k : 50k proportion
    assert (
        train_x.shape[1:] == (1, 28, 28)
        and train_x.dtype == torch.float32
        and train_x.min() >= 0
        and train_x.max() <= 1
    )
    assert torch.equal(train_x, again["train"][0]) and not torch.equal(train_x, other["train"][0])


@pytest.mark.parametrize("as_zip", [False, True])
def test_original_larochelle_files_are_preferred(tmp_path, as_zip):
    folder = tmp_path / "mnist_rotation_new"
    folder.mkdir()
    texts = {}
    for name, rows in (("train_valid", 3), ("test", 2)):
        values = torch.rand(rows, 784, generator=torch.Generator().manual_seed(rows))
        lines = [" ".join(f"{v:.6f}" for v in row.tolist()) + f" {i % 10}" for i, row in enumerate(values)]
        texts[f"mnist_all_rotation_normalized_float_{name}.amat"] = "\n".join(lines) + "\n"
    if as_zip:
        with zipfile.ZipFile(folder / "mnist_rotation_new.zip", "w") as archive:
            for name, text in texts.items():
                archive.writestr(name, text)
    else:
        for name, text in texts.items():
            (folder / name).write_text(text)
    fake_idx_dataset(tmp_path, "MNIST", num_train=20, num_test=10)  # present, but not used
    splits, source = make_rotated_mnist(tmp_path)
    assert source.startswith("mnist_rotation_new")
    assert splits["train"][0].shape == (3, 1, 28, 28) and splits["test"][1].tolist() == [0, 1]
    assert torch.allclose(
        splits["train"][0][1].flatten(),
        torch.tensor([float(v) for v in texts[next(iter(texts))].splitlines()[1].split()[:784]]),
    )
