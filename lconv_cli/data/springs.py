"""The spring-system dataset of the LieConv paper (§6, after Sanchez-Gonzalez et al. 2019).

Each system: n bodies in the plane with masses m_i ~ U(0.1, 3.1) and spring constants
k_i ~ U(0, 5), potential V = ½ Σ_{i,j} k_i k_j ‖q_i − q_j‖², initial q₀ ~ N(0, 0.4²),
p₀ ~ N(0, 0.6²) minus the system's own mean, so each system's total momentum is zero (the
official code subtracts the mean over the whole batch of systems instead, which leaves every
system with some net momentum). Trajectories are integrated in float64 with RK4 on
``num_times`` points of [0, t_end]; each system contributes one random chunk of
``chunk_steps`` steps (the training example), and test systems also keep the first
``long_steps`` steps from t = 0 (the long rollouts).

Systems are drawn one after the other from an RNG per split seeded by (seed, split), so the
first N systems of a split are the same for every split size (nested training sets for a
data-scaling sweep) and the test split does not depend on the training size. Splits are cached
under ``<data_dir>/springs/``; generation takes seconds, so a read-only root only costs that.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from lconv_cli.physics.hamiltonian import integrate, spring_vector_field
from lconv_cli.train.seeding import seeded_rngs

log = logging.getLogger(__name__)
CACHE_FORMAT = 1
SPLITS = ("train", "valid", "test")
INTEGRATION_BLOCK = 1024  # systems integrated together (bounds the float64 trajectory buffer)


@dataclass(frozen=True)
class SpringSettings:
    """What defines the systems (the cache key). Times: ``num_times`` points on [0, t_end]."""

    num_bodies: int = 6
    num_times: int = 500
    t_end: float = 5.0
    chunk_steps: int = 5
    long_steps: int = 100
    seed: int = 0

    @property
    def dt(self) -> float:
        return self.t_end / (self.num_times - 1)

    def times(self, steps: int, dtype=torch.float64) -> torch.Tensor:
        """(steps + 1,) times 0, dt, …, steps·dt (the dynamics are autonomous, so every chunk starts at 0)."""
        return torch.arange(steps + 1, dtype=dtype) * self.dt


@dataclass
class SpringSplit:
    """N systems of one split (float64).

    masses, springs (N, n); chunks (N, chunk_steps + 1, 2, n, 2): the true states along each
    system's training chunk; chunk_start (N,): its first time index; long (N, long_steps + 1, 2, n, 2)
    or None: the states from t = 0 (test split only).
    """

    masses: torch.Tensor
    springs: torch.Tensor
    chunks: torch.Tensor
    chunk_start: torch.Tensor
    long: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.masses)

    @property
    def params(self) -> torch.Tensor:
        """(N, n, 2) per-body [m, k], what the models read besides the state."""
        return torch.stack([self.masses, self.springs], -1)

    def subset(self, size: int | None) -> SpringSplit:
        """The first ``size`` systems (all when None)."""
        if size is None or size >= len(self):
            return self
        cut = slice(0, int(size))
        return SpringSplit(
            self.masses[cut],
            self.springs[cut],
            self.chunks[cut],
            self.chunk_start[cut],
            None if self.long is None else self.long[cut],
        )


def draw_systems(settings: SpringSettings, split: str, num_systems: int) -> tuple[torch.Tensor, ...]:
    """(masses (N, n), springs (N, n), z0 (N, 2, n, 2), chunk_start (N,)), one system at a time from the split's RNG."""
    rng = seeded_rngs(settings.seed, *SPLITS)[split]
    n = settings.num_bodies
    masses, springs, states, starts = [], [], [], []
    for _ in range(num_systems):
        masses.append(0.1 + 3.0 * torch.rand(n, generator=rng, dtype=torch.float64))
        springs.append(5.0 * torch.rand(n, generator=rng, dtype=torch.float64))
        q = 0.4 * torch.randn(n, 2, generator=rng, dtype=torch.float64)
        p = 0.6 * torch.randn(n, 2, generator=rng, dtype=torch.float64)
        states.append(torch.stack([q, p - p.mean(0)]))
        starts.append(torch.randint(settings.num_times - settings.chunk_steps, (), generator=rng))
    if not num_systems:
        empty = torch.zeros(0, n, dtype=torch.float64)
        return empty, empty, torch.zeros(0, 2, n, 2, dtype=torch.float64), torch.zeros(0, dtype=torch.long)
    return torch.stack(masses), torch.stack(springs), torch.stack(states), torch.stack(starts)


def generate_split(settings: SpringSettings, split: str, num_systems: int) -> SpringSplit:
    """Draw and integrate ``num_systems`` systems of ``split`` (RK4, float64, all ``num_times`` points)."""
    masses, springs, z0, starts = draw_systems(settings, split, num_systems)
    keep_long = split == "test"
    steps = settings.num_times - 1
    if keep_long and settings.long_steps > steps:
        raise ValueError(f"long_steps={settings.long_steps} exceeds the {steps} steps of a trajectory")
    times = settings.times(steps)
    chunks, longs = [], []
    offsets = torch.arange(settings.chunk_steps + 1)
    for lo in range(0, num_systems, INTEGRATION_BLOCK):
        hi = min(num_systems, lo + INTEGRATION_BLOCK)
        m, k = masses[lo:hi], springs[lo:hi]
        trajectory = integrate(lambda z, m=m, k=k: spring_vector_field(z, m, k), z0[lo:hi], times)  # (b, T, 2, n, 2)
        index = starts[lo:hi, None] + offsets
        chunks.append(trajectory[torch.arange(hi - lo)[:, None], index])
        if keep_long:
            longs.append(trajectory[:, : settings.long_steps + 1].clone())
    shape = (0, settings.chunk_steps + 1, 2, settings.num_bodies, 2)
    chunk = torch.cat(chunks) if chunks else torch.zeros(shape, dtype=torch.float64)
    long = (
        (torch.cat(longs) if longs else torch.zeros(0, settings.long_steps + 1, *shape[2:], dtype=torch.float64))
        if keep_long
        else None
    )
    return SpringSplit(masses, springs, chunk, starts, long)


def cache_path(cache_dir: str | Path, settings: SpringSettings, split: str, num_systems: int) -> Path:
    """``<cache_dir>/springs/<split>-<N>-<hash of the settings>.pt``."""
    key = json.dumps({**asdict(settings), "format": CACHE_FORMAT}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(cache_dir) / "springs" / f"{split}-{num_systems}-{digest}.pt"


def load_split(cache_dir: str | Path, settings: SpringSettings, split: str, num_systems: int) -> SpringSplit:
    """A split from the cache, generated (and cached, when ``cache_dir`` is writable) the first time;
    a damaged cache file is generated again."""
    path = cache_path(cache_dir, settings, split, num_systems)
    if path.is_file():
        try:
            return SpringSplit(**torch.load(path, weights_only=True))
        except Exception as error:  # truncated or foreign file: the systems are cheap to regenerate
            log.warning("spring cache %s is unreadable (%s); generating the systems again", path, error)
    log.info("Generating %d %s spring systems (once; cached at %s)", num_systems, split, path)
    data = generate_split(settings, split, num_systems)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(asdict(data), tmp)
        os.replace(tmp, path)
    except OSError as error:  # an unwritable cache folder: use the generated systems, say why they are not kept
        log.warning(
            "spring systems not cached (%s); they will be generated again. Set paths.cache_dir to a writable folder.",
            error,
        )
    finally:
        tmp.unlink(missing_ok=True)
    return data
