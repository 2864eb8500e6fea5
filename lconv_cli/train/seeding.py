"""Seeding: one integer seed makes a run reproducible."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seeded_generators(seed: int, *names: str) -> dict[str, torch.Generator]:
    """Independent torch.Generators for named purposes (e.g. "train", "test", "init", "batches").

    Streams come from numpy's SeedSequence, so different names and different seeds never
    share a stream, and adding a name does not change the others.
    """
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {
        name: torch.Generator().manual_seed(int(child.generate_state(1, dtype=np.uint64)[0] >> 1))
        for name, child in zip(names, children)
    }
