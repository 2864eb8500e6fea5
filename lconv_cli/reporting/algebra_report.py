"""Reporting a discovered algebra: its name (generators or vector fields), ``algebra.json`` and figures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from lconv_cli.lie.algebras import AlgebraCase
from lconv_cli.lie.classification import RTOL, AlgebraReport, centre, classify
from lconv_cli.lie.metrics import structure_constants
from lconv_cli.lie.vector_fields import field_structure_constants
from lconv_cli.reporting.figures import show_matrix
from lconv_cli.runner.record import atomic_write_text

NAMING_CLOSURE = 1e-3  # a span that closes worse than this is not a Lie algebra: it gets no name


def name_algebra(found: torch.Tensor) -> AlgebraReport | None:
    """Classify the span of the generators (m, n, n); a central element counts as compact when its
    matrix has a purely imaginary spectrum (it generates a bounded one-parameter group)."""
    if found.shape[0] == 0:
        return None
    c, residual = structure_constants(found)
    closure = float(residual.max())
    if closure > NAMING_CLOSURE:
        return None  # not a Lie algebra: nothing to name
    tol = max(RTOL, 10 * closure)
    report = classify(c, tol=tol)
    if report.centre_dim:
        matrices = torch.einsum("za,aij->zij", centre(c, tol), found)
        spectra = torch.linalg.eigvals(matrices)
        compact = (spectra.real.abs() <= 1e-3 * spectra.abs().amax(-1, keepdim=True).clamp_min(1e-300)).all(-1)
        report = classify(c, central_compact=[bool(v) for v in compact], tol=tol)
    return report


def name_fields(
    found: torch.Tensor, points: torch.Tensor, exponents: torch.Tensor
) -> tuple[AlgebraReport | None, float]:
    """Classify the span of vector fields (m, M·n) through their brackets at ``points`` (P, n);
    (None, closure) when the span does not close to ``NAMING_CLOSURE``."""
    if found.shape[0] == 0:
        return None, math.nan
    c, closure = field_structure_constants(found, points, exponents)
    if closure > NAMING_CLOSURE:
        return None, closure
    return classify(c, tol=max(RTOL, 10 * closure)), closure


def report_metrics(report: AlgebraReport | None, signature: tuple[int, int, int]) -> dict[str, float]:
    """The metrics every discovery run reports about what it found: the Killing signature and the
    report's invariants (NaN when nothing was named)."""
    missing = report is None
    return {
        "killing_positive": signature[0],
        "killing_negative": signature[1],
        "killing_zero": signature[2],
        "radical_dim": math.nan if missing else report.radical_dim,
        "centre_dim": math.nan if missing else report.centre_dim,
        "semisimple": math.nan if missing else float(report.semisimple),
        "compact": math.nan if missing else float(report.compact),
    }


def write_algebra_record(
    out_dir: Path,
    case: AlgebraCase,
    found: AlgebraReport | None,
    truth: AlgebraReport | None,
    extra: dict | None = None,
) -> Path:
    """``algebra.json``, written atomically: what was found (name, invariants, structure constants in a
    Killing-orthonormal basis, ``c[i][j][l]`` with ``[e_i, e_j] = Σ_l c_ijl e_l``), for built-in
    families what was expected, and ``extra`` entries (e.g. the vector fields)."""
    record = {
        "invariant": case.name,
        "description": case.description,
        "found": found.summary() if found else None,
        "expected": truth.summary() if truth else None,
        "structure_constants": found.structure_constants.tolist() if found is not None else None,
        "structure_constants_basis": "Killing-orthonormal"
        if found is not None and found.killing_signature[2] == 0
        else "discovered",
    }
    record.update(extra or {})
    return atomic_write_text(out_dir / "algebra.json", json.dumps(record, indent=2) + "\n")


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


def plot_spectrum(evals: torch.Tensor, title: str):
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.semilogy(range(1, len(evals) + 1), evals.clamp_min(1e-30).numpy(), "o-")
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_xlabel("eigenvalue #")
    ax.set_ylabel("invariance operator")
    fig.tight_layout()
    return fig
