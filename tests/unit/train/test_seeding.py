"""Seed streams are independent and reproducible."""

import torch

from lconv_cli.train.seeding import built_with_seed_of, seeded_rngs


def test_seed_streams_are_independent_and_reproducible():
    a, b = seeded_rngs(0, "train", "test"), seeded_rngs(0, "train", "test")
    assert torch.equal(torch.rand(5, generator=a["train"]), torch.rand(5, generator=b["train"]))
    other_seed = seeded_rngs(1, "train", "test")
    assert not torch.equal(torch.rand(5, generator=a["test"]), torch.rand(5, generator=other_seed["test"]))
    first, second = seeded_rngs(0, "train", "test"), seeded_rngs(0, "train", "test")
    assert not torch.equal(torch.rand(5, generator=first["train"]), torch.rand(5, generator=second["test"]))


def test_built_with_seed_of_is_reproducible_and_leaves_the_global_stream_alone():
    rng = seeded_rngs(0, "init")["init"]
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = built_with_seed_of(rng, lambda: torch.nn.Linear(4, 2))
    assert torch.equal(torch.rand(3), expected_next)  # the global RNG is restored after building
    second = built_with_seed_of(rng, lambda: torch.nn.Linear(4, 2))
    assert torch.equal(first.weight, second.weight)
    other = built_with_seed_of(seeded_rngs(1, "init")["init"], lambda: torch.nn.Linear(4, 2))
    assert not torch.equal(first.weight, other.weight)
    fresh = seeded_rngs(0, "init")["init"]
    assert torch.equal(torch.rand(2, generator=rng), torch.rand(2, generator=fresh))  # rng itself was not drawn from
