"""symmetry_from_samples: discover the symmetry of a distribution from unlabelled samples alone.

Data (``conf/data/point_cloud.yaml``): seeded samples of a built-in distribution with a known
symmetry (``data.distribution``: sphere → so(3), lorentz → so(1,3), bent → a non-affine field;
:mod:`lconv_cli.data.point_clouds`), or the user's own samples (``data.path``: .npz/.npy/.csv/.pt),
split into train and test. A symmetry is a vector field V whose flow carries the distribution into
itself: div(pV) = 0, i.e. V·∇log p + div V = 0 on the support. Two methods, both over the
monomial fields of degree ≤ ``model.field_degree`` (at least what the distribution needs):

- ``model=density_symmetry`` (the main method, after Shaw, Magner & Moon 2024): fit log p by score
  matching (:class:`lconv_cli.models.density.PolynomialLogDensity`, closed form), then the
  continuity equation is linear in V's coefficients: the symmetries are the near-null eigenvectors of
  that operator over the whole basis, and their number, the dimension, is read off the spectral gap
  (:func:`lconv_cli.lie.vector_fields.measure_preserving_fields`).
- ``model=liegan`` (the baseline, Yang et al. 2023): k fields trained adversarially so that a
  discriminator cannot tell samples from samples moved by exp(Σ z_i V_i) (:mod:`lconv_cli.models.liegan`);
  k is given (the true dimension for a built-in distribution), not found.

Metrics: ``subspace_similarity`` to the true symmetry (coefficient space), ``discovered_dim``,
``name_correct`` (the span's brackets classified and named like the truth's), ``closure_error``,
``test_continuity`` (the found fields' continuity residual, mean square, against a density fitted to
the held-out samples: a judge that needs no truth and is the same for both methods), ``seconds``
(fit and discovery, without start-up).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch
from omegaconf import DictConfig

from lconv_cli.data.point_clouds import point_cloud
from lconv_cli.data.points_file import load_samples
from lconv_cli.errors import UserError
from lconv_cli.lie import subspace_similarity
from lconv_cli.lie.vector_fields import continuity_residuals, measure_preserving_fields, monomial_exponents
from lconv_cli.models.density import PolynomialLogDensity
from lconv_cli.models.liegan import Discriminator, FlowGenerator, LieGAN
from lconv_cli.reporting.algebra_report import (
    NAMING_CLOSURE,
    name_fields,
    plot_spectrum,
    report_metrics,
    write_algebra_record,
)
from lconv_cli.reporting.figures import save_figure
from lconv_cli.runner.registry import register
from lconv_cli.runner.schema import POSITIVE, Number
from lconv_cli.train.seeding import built_with_seed_of, seeded_rngs
from lconv_cli.train.trainer import trainer_from_config

log = logging.getLogger(__name__)

METHODS = ("density_symmetry", "liegan")
SIMILAR = 0.99  # success: similarity at least this, the right dimension and name

RULES = (  # the model.* keys have shared rules (lconv_cli/runner/schema.py): model configs compose with any experiment
    ("data.width", POSITIVE),
    ("data.envelope", POSITIVE),
    ("data.test_fraction", Number(low=0, low_open=True, high=1, high_open=True)),
)


class UserSamples:
    """The user's samples, named like a built-in distribution (no known symmetry)."""

    def __init__(self, path: str, n: int) -> None:
        self.name, self.n, self.field_degree = Path(path).name, n, 1
        self.description = f"samples from {path}"


def load_problem(cfg: DictConfig, rngs: dict[str, torch.Generator]):
    """(distribution, train (N, n), test (N', n), true fields or None) in float64."""
    if cfg.data.get("path"):
        samples = load_samples(cfg.data.path, x_key=cfg.data.x_key, x_columns=cfg.data.get("x_columns"))
        if samples.dropped:
            log.warning("%s: %d rows with NaN or infinity dropped", cfg.data.path, samples.dropped)
        order = torch.randperm(len(samples.x), generator=rngs["test"])
        held = max(1, round(float(cfg.data.test_fraction) * len(order)))
        return UserSamples(cfg.data.path, samples.x.shape[1]), samples.x[order[held:]], samples.x[order[:held]], None
    cloud = point_cloud(str(cfg.data.distribution), float(cfg.data.width), float(cfg.data.envelope))
    train = cloud.sample(int(cfg.data.num_train), rngs["train"])
    test = cloud.sample(int(cfg.data.num_test), rngs["test"])
    return cloud, train, test, cloud.symmetry


def density_fields(cfg: DictConfig, train: torch.Tensor, degree: int) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The main method: score-matched density, then the continuity operator's null space."""
    density = PolynomialLogDensity.fit(train, int(cfg.model.density_degree), float(cfg.model.ridge))
    found, evals, gap = measure_preserving_fields(
        train,
        density.score(train),
        degree,
        float(cfg.model.invariance_tol),
        float(cfg.model.min_gap),
        closure=NAMING_CLOSURE,
    )
    return found, evals, {"spectral_gap": gap, "density_params": density.num_params}


def liegan_fields(
    cfg: DictConfig, train: torch.Tensor, degree: int, k: int, rngs: dict[str, torch.Generator], out_dir: Path
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The baseline: k fields trained adversarially (Trainer: checkpoints, resume, NaN stop) on
    ``cfg.device``; the random draws stay on the CPU generators, so a seed gives the same batches."""
    device = torch.device(cfg.device)
    samples = train.to(torch.float32)
    generator = FlowGenerator(k, samples, degree, float(cfg.model.coef_std), int(cfg.model.flow_steps), rngs["init"])
    discriminator = built_with_seed_of(rngs["init"], lambda: Discriminator(samples.shape[1], int(cfg.model.disc_width)))
    model = LieGAN(generator, discriminator, float(cfg.model.orthogonality)).to(device)
    samples = samples.to(device)
    batch = int(cfg.trainer.batch_size)

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        real, source = (samples[torch.randint(len(samples), (batch,), generator=rng).to(device)] for _ in range(2))
        return model.loss(real, source, rng)

    result = trainer_from_config(model, cfg, out_dir=out_dir, batch_rng=rngs["batches"], description="liegan").fit(
        step_loss
    )
    found = generator.fields.detach().cpu().to(torch.float64)
    return found, torch.empty(0, dtype=torch.float64), {"train_steps": result.steps, "final_loss": result.final_loss}


def judge(found: torch.Tensor, test: torch.Tensor, degree: int, density_degree: int) -> float:
    """Worst mean-square continuity residual of the found fields against a density fitted to the
    held-out samples (NaN if nothing was found)."""
    if found.shape[0] == 0:
        return math.nan
    density = PolynomialLogDensity.fit(test, density_degree)
    exponents = monomial_exponents(test.shape[1], degree)
    return float(continuity_residuals(found, test, density.score(test), exponents).pow(2).mean(1).max())


@register("symmetry_from_samples", rules=RULES)
def run(cfg: DictConfig) -> dict[str, float]:
    out_dir = Path(cfg.paths.output_dir)
    rngs = seeded_rngs(int(cfg.seed), "train", "test", "init", "batches")
    method = str(cfg.model.name)
    if method not in METHODS:
        raise UserError(f"model={method}: symmetry_from_samples takes model=density_symmetry or model=liegan")

    # 1. data
    cloud, train, test, symmetry = load_problem(cfg, rngs)
    degree = max(cloud.field_degree, int(cfg.model.field_degree))
    exponents = monomial_exponents(cloud.n, degree)
    truth = symmetry(degree) if symmetry is not None else None
    log.info(
        "%s: %d train / %d test samples; fields of degree ≤ %d (%d)",
        cloud.description,
        len(train),
        len(test),
        degree,
        exponents.shape[0] * cloud.n,
    )

    # 2–3. model and discovery
    started = time.perf_counter()
    if method == "density_symmetry":
        found, evals, extra = density_fields(cfg, train, degree)
    else:
        k = (
            cfg.model.num_generators
            if cfg.model.num_generators is not None
            else (len(truth) if truth is not None else None)
        )
        if k is None:
            raise UserError(
                "model=liegan on your own samples needs model.num_generators (LieGAN does not find the dimension)"
            )
        found, evals, extra = liegan_fields(cfg, train, degree, int(k), rngs, out_dir)
    seconds = time.perf_counter() - started

    # 4. evaluation
    bracket_points = test[:1024]
    found_report, closure = name_fields(found, bracket_points, exponents)
    true_report = name_fields(truth, bracket_points, exponents)[0] if truth is not None and len(truth) else None
    dim = found.shape[0]
    known = truth is not None
    similarity = (subspace_similarity(found, truth) if dim and len(truth) else 0.0) if known else math.nan
    name_correct = (
        float(found_report is not None and true_report is not None and found_report.name == true_report.name)
        if known
        else math.nan
    )
    success = dim == len(truth) and similarity >= SIMILAR and name_correct == 1.0 if known else dim > 0
    signature = found_report.killing_signature if found_report else (0, 0, 0)
    metrics = {
        "subspace_similarity": similarity,
        "discovered_dim": dim,
        "true_dim": len(truth) if known else math.nan,
        "name_correct": name_correct,
        "closure_error": closure,
        "test_continuity": judge(found, test, degree, int(cfg.model.density_degree)),
        **report_metrics(found_report, signature),
        "success": float(success),
        "field_degree": degree,
        "seconds": seconds,
        **extra,
    }

    # 5. report
    name = found_report.name if found_report else ("nothing" if dim == 0 else "a span that does not close")
    log.info("%s found %s (dim %d, similarity %.6f, %.1f s)", method, name, dim, similarity, seconds)
    fields_record = {
        "method": method,
        "degree": degree,
        "monomial_exponents": exponents.tolist(),
        "coefficients": found.reshape(dim, exponents.shape[0], cloud.n).tolist(),
    }
    write_algebra_record(out_dir, cloud, found_report, true_report, extra={"fields": fields_record})
    if len(evals):
        save_figure(plot_spectrum(evals, f"{cloud.name}: {name}"), out_dir, "continuity_spectrum")
    return metrics
