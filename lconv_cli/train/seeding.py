"""Seeding: one integer seed makes a run reproducible."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seeded_rngs(seed: int, *names: str) -> dict[str, torch.Generator]:
    """Independent torch.Generators for named purposes (e.g. "train", "test", "init", "batches").

    Streams come from numpy's SeedSequence, so different names and different seeds never
    share a stream, and adding a name does not change the others.
    """
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {
        name: torch.Generator().manual_seed(int(child.generate_state(1, dtype=np.uint64)[0] >> 1))
        for name, child in zip(names, children)
    }


def built_with_seed_of(rng: torch.Generator, build: Callable[[], T]) -> T:
    """``build()`` with torch's global CPU RNG seeded by ``rng.initial_seed()`` and restored afterwards,
    so initialisers that draw from the global RNG (e.g. ``nn.Linear``) are reproducible and leave the
    global stream as it was. ``rng`` itself is not drawn from."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.initial_seed()))
        return build()
