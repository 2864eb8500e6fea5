"""algebra_discovery: discover the Lie algebra that keeps an invariant, or the function behind labelled data.

Data: seeded Gaussian points in R^n (``copies`` vectors per point) and invariants φ the symmetry
must keep: a built-in family (``data.algebra``: so<n>, so<p>_<q>, sp<2n>, sl<n>, u<n>, conformal<n>,
and the aliases so3, so21, so13, sl2; see :mod:`lconv_cli.lie.algebras`) or the user's own function
(``data.invariant=package.module:function`` with ``data.input_dim`` and ``data.copies``); or, with
``data=file``, the user's labelled points, where a regressor fitted to y(x) plays φ on the data's own
points (:func:`file_problem`). Rows where a gradient is not finite are dropped and counted, never used.
Linear generators (``model.field_degree=1``, :mod:`lconv_cli.models.generator_set`): k generators
G_i (n×n), trained (Adam, checkpointed) on
    invariance  mean_x Σ_i r_i(x)²,  r_i = ∇φ·(G_i x) / (‖∇φ‖‖x‖‖G_i‖)
  + normalisation Σ_i (‖G_i‖² − 1)²  + orthogonality Σ_{i<j} ⟨Ĝ_i, Ĝ_j⟩².
Then the invariance operator M_ab = mean_x r_a r_b on an orthonormal basis of the learned span is
diagonalised; ``discovered_dim`` = the number of eigenvalues below the largest gap of at least ``model.min_gap`` (all k if
every eigenvalue is below ``model.invariance_tol``), and its eigenvectors are the discovered
generators. Last, those m generators are polished by L-BFGS on the same losses plus
    closure  Σ_{i<j} ‖[G_i, G_j] − Σ_l c_ijl G_l‖² / (‖G_i‖²‖G_j‖²)   (c by least squares).
Closure is left out of the first stage on purpose: when k exceeds the algebra's dimension no set of
k matrices containing the algebra closes, and the penalty drags the search away from it (so(3)
asked for 4 generators with closure in the first stage finds dimension 1).
The discovered algebra is then named (:func:`lconv_cli.lie.classification.classify`): dimension,
Killing signature, radical and centre, semisimple / compact, the simple summands and the catalogue
name, written to ``algebra.json`` with the structure constants in a Killing-orthonormal basis.
Metrics (test points): ``subspace_similarity`` to the true algebra, ``closure_error``, the Killing
signature, ``name_correct``, ``success`` (similarity ≥ 0.999, closure ≤ 1e-3, right signature,
dimension and name). A user's invariant has no known answer: its similarity and name checks are
NaN, and ``success`` means a non-empty algebra that closes to 1e-3.
Polynomial vector fields (``model.field_degree`` ≥ 2, and conformal<n>): the invariance condition is
linear in the fields' coefficients, so the symmetries are read off the invariance operator over the
whole monomial basis, with no training (:func:`run_fields`), and named by their brackets and by the
conformal families (translations, rotations, dilation, special conformal) their span contains.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from lconv_cli.data.generators_file import FILE_NAME, save_generators
from lconv_cli.data.points_file import load_labelled_points
from lconv_cli.errors import UserError
from lconv_cli.lie import closure_error, killing_signature, subspace_similarity
from lconv_cli.lie.algebras import (
    AlgebraCase,
    algebra_case,
    finite_rows,
    invariance_residuals,
    invariant_gradients,
    user_case,
)
from lconv_cli.lie.classification import AlgebraReport
from lconv_cli.lie.vector_fields import (
    conformal_fields,
    family_content,
    field_invariance_residuals,
    invariant_fields,
    monomial_exponents,
)
from lconv_cli.models.generator_set import LOSS_TERMS, GeneratorSet, discovered_subspace, losses, polish, weighted_loss
from lconv_cli.models.regressor import fit_regressor, r_squared
from lconv_cli.reporting.algebra_report import (
    NAMING_CLOSURE,
    name_algebra,
    name_fields,
    plot_generators,
    plot_spectrum,
    report_metrics,
    write_algebra_record,
)
from lconv_cli.reporting.figures import save_figure
from lconv_cli.runner.registry import register
from lconv_cli.runner.schema import OPTIONAL_POSITIVE_INT, POSITIVE, POSITIVE_INT, Number
from lconv_cli.train.seeding import seeded_rngs
from lconv_cli.train.trainer import TrainResult, trainer_from_config

log = logging.getLogger(__name__)

GAP = {"oracle": 100.0, "fitted": 10.0}  # default model.min_gap: an exact invariant, a function fitted to data
SUCCESS = {"subspace_similarity": 0.999, "closure_error": NAMING_CLOSURE}


@dataclass
class Points:
    """Seeded Gaussian points x (N, n·copies) float64 and the invariants' gradients there (N, m, n·copies)."""

    x: torch.Tensor
    grads: torch.Tensor

    @classmethod
    def draw(cls, case: AlgebraCase, count: int, rng: torch.Generator) -> Points:
        """``count`` points; rows where a gradient is not finite are dropped (logged), an error if
        fewer than half remain."""
        x = torch.randn(count, case.n * case.copies, generator=rng, dtype=torch.float64)
        grads = invariant_gradients(case, x)
        keep = finite_rows(x, grads)
        dropped = int((~keep).sum())
        if dropped:
            log.warning("%s: %d of %d points dropped (non-finite invariant gradient)", case.name, dropped, count)
        if 2 * dropped > count:
            raise UserError(
                f"{case.name}: the invariant's gradient is not finite at {dropped} of {count} Gaussian points"
            )
        return cls(x[keep], grads[keep])

    @classmethod
    def of(cls, case: AlgebraCase, x: torch.Tensor) -> Points:
        """Given points (the data's); rows where a gradient is not finite are dropped (logged)."""
        grads = invariant_gradients(case, x)
        keep = finite_rows(x, grads)
        if not bool(keep.all()):
            log.warning("%s: %d points dropped (non-finite gradient of the fit)", case.name, int((~keep).sum()))
        return cls(x[keep], grads[keep])


def train_generator_set(
    cfg: DictConfig,
    model: GeneratorSet,
    case: AlgebraCase,
    train: Points,
    weights: dict[str, float],
    out_dir: Path,
) -> TrainResult:
    """Adam on the invariance, normalisation and orthogonality losses (no closure); the subspace
    similarity to the true algebra monitored when there is one. The loss uses every training point,
    so no batches are drawn."""
    truth = case.basis() if case.basis is not None else None

    def step_loss(rng: torch.Generator) -> torch.Tensor:
        return weighted_loss(losses(model.generators, train.x, train.grads, case, closure=False), weights)

    def monitor() -> dict[str, float]:
        return {"subspace_similarity": subspace_similarity(model.generators, truth)} if truth is not None else {}

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
    found_report: AlgebraReport | None,
    true_report: AlgebraReport | None,
) -> dict[str, float]:
    """The run's metrics (module docstring) for the discovered generators ``found`` (m, n, n) on the test points."""
    dim = found.shape[0]
    known = case.basis is not None
    similarity = (subspace_similarity(found, case.basis()) if dim else 0.0) if known else math.nan
    closure = closure_error(found) if dim else math.nan
    signature = killing_signature(found) if dim else (0, 0, 0)
    name_correct = float(found_report is not None and found_report.name == true_report.name) if known else math.nan
    if known:
        success = (
            dim == case.dim
            and similarity >= SUCCESS["subspace_similarity"]
            and closure <= SUCCESS["closure_error"]
            and signature == case.signature
            and name_correct == 1.0
        )
    else:
        success = dim > 0 and (dim == 1 or closure <= SUCCESS["closure_error"])
    return {
        "subspace_similarity": similarity,
        "closure_error": closure,
        "discovered_dim": dim,
        "true_dim": case.dim if known else math.nan,
        "spectral_gap": gap,
        "invariance_max_eig": float(evals[:dim].max()) if dim else math.nan,
        "test_invariance": worst_invariance(found, case, test),
        **report_metrics(found_report, signature),
        "signature_correct": float(signature == case.signature) if known else math.nan,
        "name_correct": name_correct,
        "success": float(success),
        "final_train_loss": result.final_loss,
        "train_seconds": result.train_seconds,
        "polish_seconds": polish_seconds,
        "steps": result.steps,
    }


def invariant_problem(cfg: DictConfig, rngs: dict[str, torch.Generator]) -> tuple[AlgebraCase, Points, Points, dict]:
    """An oracle invariant: ``data.invariant`` (a user's function) when set, else ``data.algebra``;
    seeded Gaussian train and test points."""
    if cfg.data.get("invariant"):
        case = user_case(cfg.data.invariant, cfg.data.get("input_dim"), int(cfg.data.get("copies") or 1))
    else:
        case = algebra_case(cfg.data.algebra)
    return (
        case,
        Points.draw(case, int(cfg.data.num_train), rngs["train"]),
        Points.draw(case, int(cfg.data.num_test), rngs["test"]),
        {},
    )


def file_problem(cfg: DictConfig, rngs: dict[str, torch.Generator]) -> tuple[AlgebraCase, Points, Points, dict]:
    """Labelled points from ``data.path``: a seeded train / test split, a regressor fitted to y(x) on
    the train rows (R² reported on both), and the regressor as the invariant, on the data's own points."""
    if not cfg.data.get("path"):
        raise UserError("data=file needs data.path=<points.npz | .npy | .csv | .pt>")
    data = load_labelled_points(
        cfg.data.path,
        x_key=str(cfg.data.x_key),
        y_key=str(cfg.data.y_key),
        x_columns=_plain(cfg.data.x_columns),
        y_columns=_plain(cfg.data.y_columns),
    )
    if data.dropped:
        log.warning("%s: %d rows with NaN or infinity dropped, %d kept", cfg.data.path, data.dropped, len(data.x))
    copies = int(cfg.data.copies)
    width = data.x.shape[1]
    n = int(cfg.data.input_dim) if cfg.data.input_dim is not None else width // copies
    if n * copies != width:
        raise UserError(f"{cfg.data.path}: x has {width} columns, not data.copies × data.input_dim = {copies} × {n}")
    order = torch.randperm(len(data.x), generator=rngs["train"])
    n_test = max(1, round(float(cfg.data.test_fraction) * len(order)))
    test_rows, train_rows = order[:n_test], order[n_test:]
    started = time.perf_counter()
    regressor = fit_regressor(
        data.x[train_rows],
        data.y[train_rows],
        rngs["init"],
        width=int(cfg.data.fit_width),
        steps=int(cfg.data.fit_steps),
        lr=float(cfg.data.fit_lr),
    )
    with torch.no_grad():
        fit = {
            "fit_r2_train": r_squared(regressor(data.x[train_rows]), data.y[train_rows]),
            "fit_r2_test": r_squared(regressor(data.x[test_rows]), data.y[test_rows]),
            "fit_seconds": time.perf_counter() - started,
            "rows_used": float(len(data.x)),
            "rows_dropped": float(data.dropped),
        }
    log.info(
        "fit of y(x) on %d rows: R² %.5f (train), %.5f (test)", len(train_rows), fit["fit_r2_train"], fit["fit_r2_test"]
    )
    truth = algebra_case(cfg.data.truth) if cfg.data.get("truth") else None
    if truth is not None and (truth.n, truth.copies) != (n, copies):
        raise UserError(
            f"data.truth={cfg.data.truth} acts on {truth.copies} × R^{truth.n}, the data on {copies} × R^{n}"
        )
    case = AlgebraCase(
        name=str(cfg.data.path),
        n=n,
        copies=copies,
        invariant=regressor,
        basis=truth.basis if truth is not None else None,
        description=f"{cfg.data.path}: the learned y(x) on {copies} × R^{n}",
    )
    return case, Points.of(case, data.x[train_rows]), Points.of(case, data.x[test_rows]), fit


def _plain(value):
    return OmegaConf.to_container(value) if isinstance(value, ListConfig) else value


RULES = (
    ("data.input_dim", OPTIONAL_POSITIVE_INT),
    ("data.copies", POSITIVE_INT),
    ("data.test_fraction", Number(low=0, low_open=True, high=1, high_open=True)),
    ("data.fit_width", POSITIVE_INT),
    ("data.fit_steps", POSITIVE_INT),
    ("data.fit_lr", POSITIVE),
)


@register("algebra_discovery", rules=RULES)
def run(cfg: DictConfig) -> dict[str, float]:
    out_dir = Path(cfg.paths.output_dir)
    rngs = seeded_rngs(int(cfg.seed), "train", "test", "init")
    problem = file_problem if "path" in cfg.data else invariant_problem
    case, train, test, fit = problem(cfg, rngs)
    fitted = bool(fit)  # the invariant is a function fitted to data: inexact, so the dimension comes from the spectrum
    full = case.n * case.n  # gl(n): asking for all of it lets the spectrum find the dimension
    default_k = full if fitted or case.dim is None else case.dim
    k = int(cfg.model.num_generators) if cfg.model.num_generators is not None else default_k
    min_gap = (
        float(cfg.model.min_gap) if cfg.model.get("min_gap") is not None else GAP["fitted" if fitted else "oracle"]
    )
    degree = max(case.field_degree, int(cfg.model.field_degree))
    if degree > 1:
        return run_fields(cfg, case, train, test, fit, degree, min_gap, out_dir)
    log.info("%s; learning %d generators on %d points (true dimension %s)", case.description, k, len(train.x), case.dim)

    model = GeneratorSet(k, case.n, rngs["init"])
    weights = {name: float(cfg.model.weights[name]) for name in LOSS_TERMS}
    result = train_generator_set(cfg, model, case, train, weights, out_dir)

    tol = float(cfg.model.invariance_tol)
    found, evals, gap = discovered_subspace(model.generators, train.x, train.grads, case, tol, min_gap)
    started = time.perf_counter()
    polish_weights = {**weights, "closure": float(cfg.model.fitted_closure_weight)} if fitted else weights
    found = polish(found, train.x, train.grads, case, polish_weights, int(cfg.model.polish_iters))
    polish_seconds = time.perf_counter() - started
    found_report = name_algebra(found)
    true_report = name_algebra(case.basis()) if case.basis is not None else None
    metrics = algebra_metrics(found, evals, gap, case, test, result, polish_seconds, found_report, true_report)
    metrics.update(fit)

    dim = found.shape[0]
    name = found_report.name if found_report else ("nothing" if dim == 0 else "a span that does not close")
    log.info("found: %s (dim %d, closure error %.3g)", name, dim, metrics["closure_error"])
    kept = found if dim else model.generators.detach()
    source = {"task": cfg.task, "algebra": case.name, "run_dir": str(out_dir), "name": name, "metrics": metrics}
    save_generators(out_dir / FILE_NAME, kept, [case.n], None, source)
    write_algebra_record(out_dir, case, found_report, true_report)
    save_figure(plot_generators(kept, evals, f"{case.name}: {name}"), out_dir, "algebra_generators")
    return metrics


def run_fields(
    cfg: DictConfig,
    case: AlgebraCase,
    train: Points,
    test: Points,
    fit: dict,
    degree: int,
    min_gap: float,
    out_dir: Path,
) -> dict[str, float]:
    """Vector fields of degree ≤ ``degree``: the invariance operator over the whole monomial basis is
    linear in the coefficients, so the symmetries are its near-null eigenvectors, found directly; they
    are named as an algebra (brackets of fields) and by the conformal families they contain."""
    n = case.n
    exponents = monomial_exponents(n, degree)
    log.info(
        "%s; vector fields of degree ≤ %d: %d basis fields on %d points",
        case.description,
        degree,
        exponents.shape[0] * n,
        len(train.x),
    )
    started = time.perf_counter()
    found, evals, gap = invariant_fields(
        train.x, train.grads, case.copies, n, degree, float(cfg.model.invariance_tol), min_gap
    )
    solve_seconds = time.perf_counter() - started
    bracket_points = test.x.reshape(-1, n)[:1024]
    found_report, closure = name_fields(found, bracket_points, exponents)
    true_report = name_fields(case.basis(), bracket_points, exponents)[0] if case.basis is not None else None
    known = case.basis is not None
    dim = found.shape[0]
    families = conformal_fields(n, degree)
    content = family_content(found, families)
    test_r = field_invariance_residuals(found, test.x, test.grads, case.copies, exponents) if dim else None
    signature = found_report.killing_signature if found_report else (0, 0, 0)
    name_correct = float(found_report is not None and found_report.name == true_report.name) if known else math.nan
    similarity = (subspace_similarity(found, case.basis()) if dim else 0.0) if known else math.nan
    success = (
        dim == case.dim and similarity >= SUCCESS["subspace_similarity"] and name_correct == 1.0
        if known
        else dim > 0 and closure <= SUCCESS["closure_error"]
    )
    metrics = {
        "subspace_similarity": similarity,
        "closure_error": closure,
        "discovered_dim": dim,
        "true_dim": case.dim if known else math.nan,
        "spectral_gap": gap,
        "test_invariance": float(test_r.pow(2).mean(1).max()) if test_r is not None else math.nan,
        **report_metrics(found_report, signature),
        "name_correct": name_correct,
        "success": float(success),
        "field_degree": degree,
        "solve_seconds": solve_seconds,
        **{f"{family.replace(' ', '_')}_fields": count for family, count in content.items()},
        **fit,
    }
    name = found_report.name if found_report else ("nothing" if dim == 0 else "a span that does not close")
    fields = ", ".join(f"{family} {count}/{len(families[family])}" for family, count in content.items())
    log.info("found: %s (dim %d, closure error %.3g); conformal fields in the span: %s", name, dim, closure, fields)
    fields_record = {
        "degree": degree,
        "monomial_exponents": exponents.tolist(),
        "coefficients": found.reshape(dim, exponents.shape[0], n).tolist(),
        "conformal_families_in_span": content,
    }
    write_algebra_record(out_dir, case, found_report, true_report, extra={"fields": fields_record})
    save_figure(plot_spectrum(evals, f"{case.name}: {name}"), out_dir, "field_spectrum")
    return metrics
