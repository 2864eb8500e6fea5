"""Seed streams are independent and reproducible."""

import torch

from lconv_cli.train.seeding import seeded_generators


def test_seed_streams_are_independent_and_reproducible():
    a, b = seeded_generators(0, "train", "test"), seeded_generators(0, "train", "test")
    assert torch.equal(torch.rand(5, generator=a["train"]), torch.rand(5, generator=b["train"]))
    assert not torch.equal(torch.rand(5, generator=a["test"]), torch.rand(5, generator=seeded_generators(1, "train", "test")["test"]))
    first, second = seeded_generators(0, "train", "test"), seeded_generators(0, "train", "test")
    assert not torch.equal(torch.rand(5, generator=first["train"]), torch.rand(5, generator=second["test"]))
