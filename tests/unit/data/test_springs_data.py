"""Spring data: seeded, nested, momentum-free systems and cached trajectory chunks."""

from __future__ import annotations

import torch

from lconv_cli.data.springs import SpringSettings, cache_path, draw_systems, generate_split, load_split
from lconv_cli.physics.hamiltonian import integrate, spring_vector_field


def test_systems_are_seeded_nested_and_momentum_free():
    settings = SpringSettings(num_times=50)
    first = draw_systems(settings, "train", 6)
    again = draw_systems(settings, "train", 6)
    longer = draw_systems(settings, "train", 10)
    for a, b, c in zip(first, again, longer):
        assert torch.equal(a, b) and torch.equal(a, c[:6])
    other_seed = draw_systems(SpringSettings(num_times=50, seed=1), "train", 6)
    assert not torch.equal(first[0], other_seed[0])
    assert not torch.equal(first[0], draw_systems(settings, "test", 6)[0])
    masses, springs, z0, starts = first
    assert float(z0[:, 1].sum(1).abs().max()) < 1e-15  # each system's own total momentum is zero
    assert (
        float(masses.min()) >= 0.1
        and float(masses.max()) <= 3.1
        and float(springs.min()) >= 0
        and float(springs.max()) <= 5
    )
    assert int(starts.max()) <= 50 - 5 - 1


def test_chunks_are_pieces_of_the_integrated_trajectories(tmp_path):
    settings = SpringSettings(num_times=60, long_steps=20)
    split = generate_split(settings, "test", 3)
    masses, springs, z0, starts = draw_systems(settings, "test", 3)
    full = integrate(lambda s: spring_vector_field(s, masses, springs), z0, settings.times(59))
    for i in range(3):
        torch.testing.assert_close(split.chunks[i], full[i, int(starts[i]) : int(starts[i]) + 6], rtol=0, atol=0)
    torch.testing.assert_close(split.long, full[:, :21], rtol=0, atol=0)
    assert generate_split(settings, "train", 2).long is None
    cached = load_split(tmp_path, settings, "test", 3)
    assert cache_path(tmp_path, settings, "test", 3).is_file()
    assert torch.equal(load_split(tmp_path, settings, "test", 3).chunks, cached.chunks)
    assert torch.equal(cached.chunks, split.chunks)
