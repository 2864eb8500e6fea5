"""algebra_discovery: discover a k-dimensional linear Lie algebra from an invariant, from data alone.

Data: seeded Gaussian points in R^n (``copies`` vectors per point) and an invariant φ the symmetry
must keep (``data.algebra``: so3, so21, so13, sl2; see :mod:`lconv_cli.lie.algebras`).
Model: k generators G_i (n×n), trained (Adam, checkpointed) on
    invariance  mean_x Σ_i r_i(x)²,  r_i = ∇φ·(G_i x) / (‖∇φ‖‖x‖‖G_i‖)
  + normalisation Σ_i (‖G_i‖² − 1)²  + orthogonality Σ_{i<j} ⟨Ĝ_i, Ĝ_j⟩².
Then the invariance operator M_ab = mean_x r_a r_b on an orthonormal basis of the learned span is
diagonalised; ``discovered_dim`` = the number of eigenvalues below the largest ≥100× gap (all k if
every eigenvalue is below ``model.invariance_tol``), and its eigenvectors are the discovered
generators. Last, those m generators are polished by L-BFGS on the same losses plus
    closure  Σ_{i<j} ‖[G_i, G_j] − Σ_l c_ijl G_l‖² / (‖G_i‖²‖G_j‖²)   (c by least squares).
Closure is left out of the first stage on purpose: when k exceeds the algebra's dimension no set of
k matrices containing the algebra closes, and the penalty drags the search away from it (so(3)
asked for 4 generators with closure in the first stage finds dimension 1).
Metrics (test points): ``subspace_similarity`` to the true algebra, ``closure_error``, the Killing
signature, ``success`` (similarity ≥ 0.999, closure ≤ 1e-3, right signature and dimension).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from omegaconf import DictConfig
from torch import nn

from lconv_cli.data.generators_file import FILE_NAME, save_generators
from lconv_cli.lie import bracket, closure_error, killing_signature, subspace_similarity
from lconv_cli.lie.algebras import ALGEBRAS, AlgebraCase, invariance_residuals, invariant_gradients
from lconv_cli.reporting.figures import save_figure, show_matrix
from lconv_cli.runner.configuring import choose
from lconv_cli.runner.registry import register
from lconv_cli.train.seeding import seeded_rngs
from lconv_cli.train.trainer import TrainResult, trainer_from_config

log = logging.getLogger(__name__)

GAP = 100.0
LOSS_TERMS = ("invariance", "normalisation", "orthogonality", "closure")
SUCCESS = {"subspace_similarity": 0.999, "closure_error": 1e-3}


class GeneratorSet(nn.Module):
    """k learnable (n, n) generators, float64, initialised N(0, 1/n)."""

    def __init__(self, k: int, n: int, rng: torch.Generator) -> None:
        super().__init__()
        self.generators = nn.Parameter(torch.randn(k, n, n, generator=rng, dtype=torch.float64) / math.sqrt(n))


@dataclass
class Points:
    """Seeded Gaussian points x (N, n·copies) float64 and the invariant's gradients there (same shape)."""

    x: torch.Tensor
    grads: torch.Tensor

    @classmethod
    def draw(cls, case: AlgebraCase, count: int, rng: torch.Generator) -> Points:
        x = torch.randn(count, case.n * case.copies, generator=rng, dtype=torch.float64)
        return cls(x, invariant_gradients(case, x))


def closure_penalty(gens: torch.Tensor) -> torch.Tensor:
    """Σ_{i<j} ‖[G_i, G_j] − proj_span [G_i, G_j]‖² / (‖G_i‖²‖G_j‖²), differentiable."""
    k = gens.shape[0]
    if k < 2:
        return gens.sum() * 0
    basis = gens.flatten(1).T  # (n², k)
    i, j = torch.triu_indices(k, k, 1)
    brackets = bracket(gens[i], gens[j]).flatten(1).T  # (n², pairs)
    coeffs = torch.linalg.lstsq(basis, brackets).solution
    misfit = (brackets - basis @ coeffs).pow(2).sum(0)
    norms = gens.flatten(1).pow(2).sum(-1)
    return (misfit / (norms[i] * norms[j])).sum()


def losses(
    gens: torch.Tensor,
    points: torch.Tensor,
    grads: torch.Tensor,
    case: AlgebraCase,
    closure: bool = True,
) -> dict[str, torch.Tensor]:
    """The named loss terms for generators (k, n, n) on points (N, n·copies); closure only if asked."""
    flat = gens.flatten(1)
    norms = flat.norm(dim=-1)
    unit = flat / norms[:, None]
    gram = unit @ unit.T
    parts = {
        "invariance": invariance_residuals(gens, points, grads, case.copies).pow(2).mean(1).sum(),
        "normalisation": (norms.pow(2) - 1).pow(2).sum(),
        "orthogonality": torch.triu(gram, 1).pow(2).sum(),
    }
    if closure:
        parts["closure"] = closure_penalty(gens)
    return parts


def weighted_loss(parts: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    return sum(weights[name] * value for name, value in parts.items())


def polish(
    gens: torch.Tensor,
    points: torch.Tensor,
    grads: torch.Tensor,
    case: AlgebraCase,
    weights: dict[str, float],
    max_iter: int,
) -> torch.Tensor:
    """L-BFGS on all losses (closure included) from the discovered generators (m, n, n), float64."""
    if max_iter <= 0 or gens.shape[0] == 0:
        return gens
    start = gens.detach().clone()
    start = start / start.flatten(1).norm(dim=-1)[:, None, None]
    params = start.requires_grad_(True)
    opt = torch.optim.LBFGS(
        [params],
        lr=1.0,
        max_iter=max_iter,
        history_size=50,
        tolerance_grad=1e-14,
        tolerance_change=1e-18,
        line_search_fn="strong_wolfe",
    )

    def objective() -> torch.Tensor:
        opt.zero_grad()
        loss = weighted_loss(losses(params, points, grads, case), weights)
        loss.backward()
        return loss

    opt.step(objective)
    return params.detach()


def discovered_subspace(gens: torch.Tensor, points: torch.Tensor, grads: torch.Tensor, case: AlgebraCase, tol: float):
    """(generators (m, n, n), eigenvalues (k,), spectral gap) of the invariant part of span{G_i}."""
    k, n, _ = gens.shape
    q, _ = torch.linalg.qr(gens.detach().flatten(1).T)  # (n², k) orthonormal basis of the span
    basis = q.T.reshape(k, n, n)
    r = invariance_residuals(basis, points, grads, case.copies)  # (k, N)
    evals, evecs = torch.linalg.eigh(r @ r.T / r.shape[1])
    evals = evals.clamp_min(1e-15 * float(evals.abs().max()))  # round-off level: no gaps among zeros
    ratios = evals[1:] / evals[:-1]
    gap = math.inf
    if evals[-1] <= tol:
        dim = k
    elif k > 1 and float(ratios.max()) >= GAP:
        dim = int(ratios.argmax()) + 1
        gap = float(ratios.max())
    else:
        dim = 0
    found = torch.einsum("am,aij->mij", evecs[:, :dim], basis)
    return found, evals, gap


def plot_generators(found: torch.Tensor, evals: torch.Tensor, title: str):
    count = max(1, found.shape[0])
    fig, axes = plt.subplots(1, count + 1, figsize=(2.6 * (count + 1), 2.8))
    for ax, g in zip(axes[:-1], found):
        show_matrix(ax, g)
    axes[0].set_title(title, fontsize=9, loc="left")
    axes[-1].semilogy(range(1, len(evals) + 1), evals.clamp_min(1e-30).numpy(), "o-")
    axes[-1].set_title("invariance spectrum", fontsize=9)
    axes[-1].set_xlabel("eigenvalue #")
    fig.tight_layout()
    return fig


def train_generator_set(
    cfg: DictConfig,
    model: GeneratorSet,
    case: AlgebraCase,
    train: Points,
    weights: dict[str, float],
    out_dir: Path,
) -> TrainResult:
    """Adam on the invariance, normalisation and orthogonality losses (no closure); the subspace
    similarity to the true algebra monitored. The loss uses every training point, so no batches are drawn."""
    truth = case.basis()

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        return weighted_loss(losses(model.generators, train.x, train.grads, case, closure=False), weights)

    def monitor() -> dict[str, float]:
        return {"subspace_similarity": subspace_similarity(model.generators, truth)}

    return trainer_from_config(
        model,
        cfg,
        out_dir=out_dir,
        batch_rng=torch.Generator().manual_seed(int(cfg.seed)),
        description=f"algebra {case.name}",
        monitor=monitor,
    ).fit(step_loss)


def worst_invariance(found: torch.Tensor, case: AlgebraCase, points: Points) -> float:
    """The largest over generators (m, n, n) of the mean squared invariance residual on ``points``; NaN if m = 0."""
    if found.shape[0] == 0:
        return math.nan
    return float(invariance_residuals(found, points.x, points.grads, case.copies).pow(2).mean(1).max())


def algebra_metrics(
    found: torch.Tensor,
    evals: torch.Tensor,
    gap: float,
    case: AlgebraCase,
    test: Points,
    result: TrainResult,
    polish_seconds: float,
) -> dict[str, float]:
    """The run's metrics (module docstring) for the discovered generators ``found`` (m, n, n) on the test points."""
    dim = found.shape[0]
    similarity = subspace_similarity(found, case.basis()) if dim else 0.0
    closure = closure_error(found) if dim else math.nan
    signature = killing_signature(found) if dim else (0, 0, 0)
    success = (
        dim == case.dim
        and similarity >= SUCCESS["subspace_similarity"]
        and closure <= SUCCESS["closure_error"]
        and signature == case.signature
    )
    return {
        "subspace_similarity": similarity,
        "closure_error": closure,
        "discovered_dim": dim,
        "true_dim": case.dim,
        "spectral_gap": gap,
        "invariance_max_eig": float(evals[:dim].max()) if dim else math.nan,
        "test_invariance": worst_invariance(found, case, test),
        "killing_positive": signature[0],
        "killing_negative": signature[1],
        "killing_zero": signature[2],
        "signature_correct": float(signature == case.signature),
        "success": float(success),
        "final_train_loss": result.final_loss,
        "train_seconds": result.train_seconds,
        "polish_seconds": polish_seconds,
        "steps": result.steps,
    }


@register("algebra_discovery")
def run(cfg: DictConfig) -> dict[str, float]:
    out_dir = Path(cfg.paths.output_dir)
    case = ALGEBRAS[choose(cfg.data.algebra, ALGEBRAS, "data.algebra")]
    rngs = seeded_rngs(int(cfg.seed), "train", "test", "init")
    train = Points.draw(case, int(cfg.data.num_train), rngs["train"])
    test = Points.draw(case, int(cfg.data.num_test), rngs["test"])
    k = int(cfg.model.num_generators) if cfg.model.num_generators is not None else case.dim
    log.info("%s; learning %d generators on %d points (true dimension %d)", case.description, k, len(train.x), case.dim)

    model = GeneratorSet(k, case.n, rngs["init"])
    weights = {name: float(cfg.model.weights[name]) for name in LOSS_TERMS}
    result = train_generator_set(cfg, model, case, train, weights, out_dir)

    tol = float(cfg.model.invariance_tol)
    found, evals, gap = discovered_subspace(model.generators, train.x, train.grads, case, tol)
    started = time.perf_counter()
    found = polish(found, train.x, train.grads, case, weights, int(cfg.model.polish_iters))
    polish_seconds = time.perf_counter() - started
    metrics = algebra_metrics(found, evals, gap, case, test, result, polish_seconds)

    dim = found.shape[0]
    kept = found if dim else model.generators.detach()
    source = {"task": cfg.task, "algebra": case.name, "run_dir": str(out_dir), "metrics": metrics}
    save_generators(out_dir / FILE_NAME, kept, [case.n], None, source)
    save_figure(plot_generators(kept, evals, f"{case.name}: {dim} found"), out_dir, "algebra_generators")
    return metrics
