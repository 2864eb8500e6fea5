"""Farthest-point subsampling and radius neighbourhoods on a group distance, for padded point sets.

A point set here is ``elems`` (B, N, E) lifted group elements, ``orbits`` (B, N, Q) orbit ids and
``mask`` (B, N) bool (False marks padding). Batch sizes may be 1 where a structure is shared by a
whole batch (e.g. an image grid). Distances are computed in chunks of queries, so memory is
O(chunk · N) whatever the set size, never a dense N × N × lie_dim tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lconv_cli.groups.point_groups import PointGroup

CHUNK_ELEMENTS = 1 << 22  # query × point pairs per distance chunk (×batch)
_MASK32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (xor-shift-multiply), on int64 tensors holding 32-bit values."""
    x = x & _MASK32
    x = (((x >> 16) ^ x) * 0x45D9F3B) & _MASK32
    x = (((x >> 16) ^ x) * 0x45D9F3B) & _MASK32
    return (x >> 16) ^ x


def uniform_noise(shape: tuple[int, ...], seed: int | None, device=None, start: tuple[int, ...] = ()) -> torch.Tensor:
    """U[0, 1) float32 values of ``shape`` (batch axis first).

    ``seed`` None: drawn from torch's global RNG. Otherwise a fixed function of the seed and
    the index along each non-batch axis (offset by ``start``): the same for every batch row and
    unchanged when an axis is padded, so evaluation does not depend on batch size or padding.
    """
    if seed is None:
        return torch.rand(shape, device=device)
    h = _mix32(torch.tensor(seed, dtype=torch.int64, device=device))
    for axis, size in enumerate(shape[1:]):
        offset = start[axis] if axis < len(start) else 0
        view = [1] * len(shape)
        view[axis + 1] = size
        h = _mix32(h + 0x9E3779B9 + (torch.arange(size, device=device) + offset).view(view))
    return ((h >> 8).to(torch.float32) / float(1 << 24)).expand(shape)


def gather_points(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x (B, N, ...) at index (B or 1, M) → (B, M, ...); a batch-1 index is shared by every row of x."""
    if index.shape[0] == 1 and x.shape[0] != 1:
        return x[:, index[0]]
    if x.shape[0] == 1 and index.shape[0] != 1:
        return x[0][index]
    rows = torch.arange(x.shape[0], device=x.device)[:, None]
    return x[rows, index]


@torch.no_grad()
def farthest_point_indices(
    group: PointGroup,
    elems: torch.Tensor,
    orbits: torch.Tensor,
    mask: torch.Tensor,
    counts: torch.Tensor,
    seed: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy farthest-point sampling of ``counts[b]`` valid points per set, all sets at once.

    The start point is a uniformly random valid point (``uniform_noise`` with ``seed``); each next point
    maximises the group distance to the points already chosen. Returns ``index`` (B, M) and
    ``chosen`` (B, M) bool with M = max(counts); slots past ``counts[b]`` are False (and repeat
    the last point).
    """
    batch, n = mask.shape
    m = int(counts.max()) if counts.numel() else 0
    scores = uniform_noise((batch, n), seed, mask.device)
    current = torch.where(mask, scores, torch.full_like(scores, -1.0)).argmax(-1)
    nearest = torch.where(mask, torch.full_like(scores, float("inf")), torch.full_like(scores, -1.0)).to(elems.dtype)
    rows = torch.arange(batch, device=mask.device)
    index = torch.empty(batch, m, dtype=torch.long, device=mask.device)
    for step in range(m):
        index[:, step] = current
        d = group.distance(elems[rows, current][:, None], elems, orbits[rows, current][:, None], orbits)
        nearest = torch.minimum(nearest, torch.where(mask, d, torch.full_like(d, -1.0)))
        current = nearest.argmax(-1)
    chosen = torch.arange(m, device=mask.device)[None] < counts[:, None]
    return index, chosen


@dataclass
class Neighbourhoods:
    """Neighbours of M query points among N points.

    ``index`` (B, M, K) into the N points, or None when every point is a candidate (then the
    mask is over all N, K = N); ``mask`` (B, M, K) bool marks real neighbours; ``fill`` is the
    fraction of valid (query, point) pairs inside the ball (what the radius adapts to)."""

    index: torch.Tensor | None
    mask: torch.Tensor
    fill: float


@torch.no_grad()
def ball_neighbourhoods(
    group: PointGroup,
    queries: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    points: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    radius: float,
    k: int,
    knn: bool = False,
    seed: int | None = None,
    distances: torch.Tensor | None = None,
    draws: int = 1,
) -> Neighbourhoods:
    """Up to ``k`` neighbours per query among the points within group distance ``radius``.

    ``queries`` and ``points`` are (elems, orbits, mask) triples (batch sizes equal or 1). With more
    than ``k`` points in the ball, ``k`` of them are drawn uniformly at random (top-k of
    in-ball + ``uniform_noise`` with ``seed``), as the official layer does; ``knn`` takes the ``k``
    nearest valid points instead, ignoring the radius. When k ≥ N all points are candidates and
    no index is formed. ``distances`` (B|1, M, N): the query–point group distances when already
    known (then the group is not evaluated). ``draws``: with batch-1 queries and points (one structure
    shared by a batch), the number of sets that draw their own neighbours from it (index and mask
    then have that batch size).
    """
    q_elems, q_orbits, q_mask = queries
    elems, orbits, mask = points
    batch = max(q_mask.shape[0], mask.shape[0])
    m, n = q_mask.shape[1], mask.shape[1]
    dense = k >= n
    chunk = max(1, CHUNK_ELEMENTS // max(1, batch * n))
    indices, masks, inside = [], [], 0.0
    for start in range(0, m, chunk):
        stop = min(m, start + chunk)
        if distances is not None:
            d = distances[:, start:stop]
        else:
            d = group.distance(
                q_elems[:, start:stop, None], elems[:, None], q_orbits[:, start:stop, None], orbits[:, None]
            )
        valid = q_mask[:, start:stop, None] & mask[:, None, :]
        in_ball = (d < radius) & valid
        inside += float(in_ball.sum())
        if dense:
            masks.append(valid if knn else in_ball)
            continue
        if knn:
            scores = torch.where(valid, -d, torch.full_like(d, -float("inf")))
        else:
            noise = uniform_noise((max(batch, draws), *d.shape[1:]), seed, d.device, start=(start, 0))
            scores = in_ball.to(d.dtype) + noise
        top = scores.topk(k, dim=-1).indices
        indices.append(top)
        masks.append((valid if knn else in_ball).expand(top.shape[0], -1, -1).gather(-1, top))
    pairs = float((q_mask.sum(-1).to(torch.float64) * mask.sum(-1).to(torch.float64)).sum())
    fill = inside / pairs if pairs else 0.0
    return Neighbourhoods(None if dense else torch.cat(indices, 1), torch.cat(masks, 1), fill)
