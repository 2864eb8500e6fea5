"""Closed-form and least-squares generator fits to transformation pairs (f_i, θ_i, g_i = T(θ_i) f_i).

These are the ceilings the learners are compared with: for a one-parameter group the closed
form is exact, and for data that no group reproduces (bilinear resampling) the polished fit
is the best any model of the form exp(θL) can do.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lconv_cli.lie.expm import expm_action_squaring, real_logm


def _as64(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [t.detach().to(torch.float64).cpu() for t in tensors]


def lstsq_transformation(
    f: torch.Tensor, g: torch.Tensor, theta: torch.Tensor | None = None, spread_order: int = 2
) -> torch.Tensor:
    """(d, d) least-squares T with g ≈ T f, for pairs at (nearly) one angle.

    f, g: (N, d). If ``theta`` (N,) varies, the model is g ≈ Σ_{j=0..spread_order} (θ − θ̄)^j A_j f
    (a Taylor expansion of T around the mean angle θ̄) and T = A_0, so a small spread of angles does
    not bias T. Computed in float64.
    """
    f64, g64 = _as64(f, g)
    columns = [f64]
    if theta is not None:
        (t64,) = _as64(theta)
        offset = (t64 - t64.mean())[:, None]
        if float(offset.abs().max()) > 1e-12:
            columns += [offset**j * f64 for j in range(1, spread_order + 1)]
    design = torch.cat(columns, 1)
    if design.shape[0] < design.shape[1]:
        raise ValueError(
            f"{design.shape[0]} pairs cannot determine {design.shape[1]} unknowns per pixel; give more pairs"
        )
    solution = torch.linalg.lstsq(design, g64).solution  # (columns, d)
    return solution[: f64.shape[1]].T.contiguous()


def closed_form_generator(
    f: torch.Tensor, theta: torch.Tensor, g: torch.Tensor, pairs_per_unknown: int = 4
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Least squares for the transformation matrix at small angles, then its matrix log over θ.

    Uses the ``pairs_per_unknown``·3·d pairs of smallest θ (all pairs when θ is fixed): T is fit at
    their mean angle θ̄ by :func:`lstsq_transformation`, and L = log(T)/θ̄ (real part of the
    principal log; exact for a one-parameter group while θ̄·max|eig L| < π).

    Returns (L, T, θ̄): the (d, d) generator, the fitted transformation and the angle it was fit at.
    """
    f64, t64, g64 = _as64(f, theta, g)
    d = f64.shape[1]
    order = torch.argsort(t64.abs())
    fixed = float(t64.max() - t64.min()) <= 1e-12
    keep = order if fixed else order[: min(len(order), pairs_per_unknown * 3 * d)]
    theta_bar = float(t64[keep].mean())
    if abs(theta_bar) < 1e-9:
        raise ValueError("the pairs' angles are all zero: no generator can be fit")
    transform = lstsq_transformation(f64[keep], g64[keep], None if fixed else t64[keep])
    return real_logm(transform) / theta_bar, transform, theta_bar


def antisymmetric_generator(
    f: torch.Tensor, theta: torch.Tensor, g: torch.Tensor, rel_eps: float = 1e-12
) -> torch.Tensor:
    """(d, d) antisymmetric L fitted in closed form to pairs g_i ≈ exp(θ_i L) f_i (f, g: (N, d); θ: (N,)).

    For an isometry group the generator is antisymmetric (exp(θL) orthogonal). The Cayley relation
    g − f = τ L (g + f), τ = tan(θ/2), is exact for the Cayley transform and matches exp(θL) to
    O(θ³ ω³) on an eigencomponent of frequency ω, so small angles are used. Least squares over
    antisymmetric L, min Σ_i ‖D_i − L M_i‖² with D_i = (g_i − f_i)/τ_i and M_i = g_i + f_i, has the
    stationarity condition (a Lyapunov equation)

        G L + L G = C,    G = Σ M_i M_iᵀ,  C = Σ D_i M_iᵀ − M_i D_iᵀ,

    solved in G's eigenbasis (G = U Λ Uᵀ): (Uᵀ L U)_ab = (Uᵀ C U)_ab / (λ_a + λ_b). An entry is
    determined as soon as one of its two directions is reached by the data, so antisymmetry fills in
    the columns of pixels the data never lights from the rows of the pixels it moves into; entries
    whose two directions the data never reach get λ_a + λ_b ≈ 0 and are set to zero by the
    regulariser ``rel_eps``·λ_max. Float64; O(N d² + d³).
    """
    f64, t64, g64 = _as64(f, theta, g)
    tau = torch.tan(t64 / 2)
    if bool((tau.abs() < 1e-12).any()):
        raise ValueError("a pair's angle is zero: it says nothing about the generator")
    d, m = (g64 - f64) / tau[:, None], g64 + f64
    gram = m.T @ m
    c = d.T @ m - m.T @ d
    lam, u = torch.linalg.eigh(gram)
    eps = rel_eps * float(lam.max())
    fitted = u @ ((u.T @ c @ u) / (lam[:, None] + lam[None, :] + eps)) @ u.T
    return 0.5 * (fitted - fitted.T)


def mean_squared_misfit(generator: torch.Tensor, f: torch.Tensor, theta: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Mean over pairs of ‖exp(θ_i L) f_i − g_i‖² (differentiable in L)."""
    return ((expm_action_squaring(generator, theta, f) - g) ** 2).sum(-1).mean()


def polish_generator(
    start: torch.Tensor, f: torch.Tensor, theta: torch.Tensor, g: torch.Tensor, max_iter: int = 200
) -> torch.Tensor:
    """The least-squares generator argmin_L Σ‖exp(θ_i L) f_i − g_i‖², by L-BFGS from ``start`` (float64)."""
    f64, t64, g64 = _as64(f, theta, g)
    lmat = start.detach().to(torch.float64).cpu().clone()
    return lbfgs_minimise(lmat, lambda m: mean_squared_misfit(m, f64, t64, g64), max_iter, 1e-12, 1e-16)


def lbfgs_minimise(
    start: torch.Tensor,
    loss: Callable[[torch.Tensor], torch.Tensor],
    max_iter: int,
    tolerance_grad: float,
    tolerance_change: float,
) -> torch.Tensor:
    """argmin of ``loss`` by L-BFGS (strong Wolfe line search, history 50) from ``start``, detached."""
    params = start.detach().clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [params],
        lr=1.0,
        max_iter=max_iter,
        history_size=50,
        tolerance_grad=tolerance_grad,
        tolerance_change=tolerance_change,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss(params)
        value.backward()
        return value

    opt.step(closure)
    return params.detach()


def best_scale_residual(
    generator: torch.Tensor, f: torch.Tensor, theta: torch.Tensor, g: torch.Tensor, iters: int = 30
) -> tuple[float, float]:
    """(α, ‖exp(αθL)f − g‖ / ‖g − f‖) with α the best scale of L (sign included), over all pairs.

    The residual is relative to the displacement g − f, so L = 0 scores 1 and an exact generator 0.
    α is refined by Gauss–Newton on the scalar from three starts, the first-order estimate and
    ±1 (the generator's own scale), and the best is kept: for large θ‖L‖ the residual oscillates
    in α and the first-order start alone can land in a far local minimum. Angle-regression models
    learn L only up to scale, so every generator is compared at its best α.
    """
    lmat, f64, t64, g64 = _as64(generator, f, theta, g)
    step = t64[:, None] * (f64 @ lmat.T)
    denom = float((step * step).sum())
    if denom == 0.0:
        return 0.0, 1.0
    first_order = float((step * (g64 - f64)).sum()) / denom
    fits = [_gauss_newton_scale(lmat, f64, t64, g64, start, iters) for start in (first_order, 1.0, -1.0)]
    return min(fits, key=lambda fit: fit[1])


def _gauss_newton_scale(
    lmat: torch.Tensor, f64: torch.Tensor, t64: torch.Tensor, g64: torch.Tensor, alpha: float, iters: int
) -> tuple[float, float]:
    """(α, relative residual) after Gauss–Newton on the scale α from the given start."""
    lt = lmat.T
    for _ in range(iters):
        pred = expm_action_squaring(lmat, alpha * t64, f64)
        jac = t64[:, None] * (pred @ lt)  # d/dα exp(αθL) f = θ L exp(αθL) f
        jj = float((jac * jac).sum())
        if jj == 0.0:
            break
        update = float(((pred - g64) * jac).sum()) / jj
        alpha -= update
        if abs(update) <= 1e-12 * max(1.0, abs(alpha)):
            break
    residual = float((expm_action_squaring(lmat, alpha * t64, f64) - g64).norm() / (g64 - f64).norm())
    return alpha, residual
