"""Closed-form and least-squares generator fits to transformation pairs (f_i, θ_i, g_i = T(θ_i) f_i).

These are the ceilings the learners are compared with: for a one-parameter group the closed
form is exact, and for data that no group reproduces (bilinear resampling) the polished fit
is the best any model of the form exp(θL) can do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


def antisymmetric_generators(
    f: torch.Tensor,
    t: torch.Tensor,
    g: torch.Tensor,
    rel_eps: float = 1e-12,
    tol: float = 1e-10,
    max_iter: int = 300,
) -> torch.Tensor:
    """(k, d, d) antisymmetric L_k fitted to pairs g_i ≈ exp(Σ_k t_ik L_k) f_i (f, g: (N, d); t: (N, k)).

    Several generators at once, each pair moved by its own known parameters t_i. For X = Σ_k t_k L_k,
    g − f = tanh(X/2)(g + f) exactly, so D_i = 2(g_i − f_i) ≈ Σ_k t_ik L_k M_i with M_i = g_i + f_i up
    to O(|X|³). Least squares over antisymmetric L_k has the coupled Lyapunov equations

        Σ_l (L_l G_lk + G_lk L_l) + ε L_k = C_k − C_kᵀ,   G_lk = Σ_i t_il t_ik M_i M_iᵀ,  C_k = Σ_i t_ik D_i M_iᵀ,

    solved by conjugate gradients preconditioned with the uncoupled equations, each solved in G_kk's
    eigenbasis (G = U Λ Uᵀ): (Uᵀ L U)_ab = (Uᵀ R U)_ab / (λ_a + λ_b + ε), exact for one generator. An
    entry is determined as soon as one of its two directions is reached by the data, so antisymmetry
    fills in the columns of pixels the inputs never light from the rows of the pixels they move into;
    entries whose two directions the data never reach are set to zero by ε. With independent
    parameters the coupling G_lk (l ≠ k) is small, but weakly reached directions slow convergence:
    on 5,000 centred MNIST pairs (tx, ty, rotation) cos to the truth is 0.95 after 30 iterations and
    0.98 after 100; inputs that light every pixel converge much faster (tx, ty, rotation, scale from
    60,000 pairs: the whole fit 52 s shifted against 194 s centred, 2-core CPU).
    ε = ``rel_eps``·max_k λ_max(G_kk); stops when the residual falls below ``tol`` of the
    right-hand side. Float64; O(N k² d² + iterations · k² d³).
    """
    f64, t64, g64 = _as64(f, t, g)
    if t64.ndim == 1:
        t64 = t64[:, None]
    return _antisymmetric_solve(g64 + f64, 2 * (g64 - f64), t64, rel_eps, tol, max_iter)


def _antisymmetric_solve(
    m: torch.Tensor, d: torch.Tensor, t64: torch.Tensor, rel_eps: float, tol: float, max_iter: int
) -> torch.Tensor:
    """The coupled Lyapunov equations of :func:`antisymmetric_generators` for D_i ≈ Σ_k t_ik L_k M_i."""
    count = t64.shape[1]
    grams = [[None] * count for _ in range(count)]
    for a in range(count):
        for b in range(a, count):
            grams[a][b] = grams[b][a] = (m * (t64[:, a] * t64[:, b])[:, None]).T @ m
    c = [(d * t64[:, a : a + 1]).T @ m for a in range(count)]
    rhs = torch.stack([ca - ca.T for ca in c])
    bases = [torch.linalg.eigh(grams[a][a]) for a in range(count)]
    eps = rel_eps * max(float(lam.max()) for lam, _ in bases)

    def apply(x: torch.Tensor) -> torch.Tensor:
        out = eps * x
        for a in range(count):
            for b in range(count):
                out[a] += x[b] @ grams[b][a] + grams[b][a] @ x[b]
        return out

    def precondition(r: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(r)
        for a, (lam, u) in enumerate(bases):
            out[a] = u @ ((u.T @ r[a] @ u) / (lam[:, None] + lam[None, :] + eps)) @ u.T
        return out

    x = precondition(rhs)
    r = rhs - apply(x)
    z = precondition(r)
    p, rz = z.clone(), float((r * z).sum())
    target = tol * float(rhs.norm())
    for _ in range(max_iter):
        if float(r.norm()) <= target:
            break
        q = apply(p)
        step = rz / float((p * q).sum())
        x, r = x + step * p, r - step * q
        z = precondition(r)
        rz, rz_old = float((r * z).sum()), rz
        p = z + (rz / rz_old) * p
    return 0.5 * (x - x.transpose(1, 2))


def general_generators(
    f: torch.Tensor, t: torch.Tensor, g: torch.Tensor, rel_eps: float = 1e-10, chunk: int = 4096
) -> torch.Tensor:
    """(k, d, d) unconstrained L_k fitted to pairs g_i ≈ exp(Σ_k t_ik L_k) f_i (f, g: (N, d); t: (N, k)).

    The relation of :func:`antisymmetric_generators`, D_i ≈ Σ_k t_ik L_k M_i, is ordinary least squares
    for every row of the L_k at once: the design row of pair i is t_i ⊗ M_i (length k·d), shared by
    all d rows, so one (k d × k d) Gram is built and solved (ridge ``rel_eps``·λ_max). Columns of
    pixels the data never reach are left at zero. Float64; O(N k² d² + k³ d³).
    """
    f64, t64, g64 = _as64(f, t, g)
    if t64.ndim == 1:
        t64 = t64[:, None]
    (n, dim), count = f64.shape, t64.shape[1]
    gram = torch.zeros(count * dim, count * dim, dtype=torch.float64)
    rhs = torch.zeros(count * dim, dim, dtype=torch.float64)
    for start in range(0, n, chunk):
        m = g64[start : start + chunk] + f64[start : start + chunk]
        design = (t64[start : start + chunk, :, None] * m[:, None, :]).reshape(len(m), -1)
        gram += design.T @ design
        rhs += design.T @ (2 * (g64[start : start + chunk] - f64[start : start + chunk]))
    ridge = rel_eps * float(torch.linalg.eigvalsh(gram).max())
    gram.diagonal().add_(ridge)
    solution = torch.linalg.solve(gram, rhs)  # (k d, d): row k·d + j holds (L_k)_{:, j}
    return solution.reshape(count, dim, dim).transpose(1, 2).contiguous()


def symmetric_share(generator: torch.Tensor, directions: torch.Tensor) -> float:
    """‖sym(P L P)‖ / ‖P L P‖ with P the projector onto ``directions`` (d, r) orthonormal columns.

    0 for an antisymmetric generator, 1 for a symmetric one; measured where the data determine L."""
    block = directions.T @ generator @ directions
    norm = float(block.norm())
    return float((0.5 * (block + block.T)).norm()) / norm if norm > 0 else 0.0


FORMS = ("auto", "antisymmetric", "general")


@dataclass
class GeneratorFit:
    """Generators fitted to transformation pairs, and the form each was fitted in."""

    generators: torch.Tensor  # (k, d, d) float64
    antisymmetric: list[bool]  # per generator: fitted as antisymmetric (else unconstrained)
    symmetric_shares: list[float]  # per generator: symmetric share of its unconstrained fit (see fit_generators)


def fit_generators(
    f: torch.Tensor,
    t: torch.Tensor,
    g: torch.Tensor,
    form: str = "auto",
    share_threshold: float = 0.05,
    reach: float = 1e-4,
    max_iter: int = 300,
) -> GeneratorFit:
    """k generators fitted to pairs g_i ≈ exp(Σ_k t_ik L_k) f_i (f, g: (N, d); t: (N, k) known parameters).

    ``form="general"``: unconstrained (:func:`general_generators`). ``"antisymmetric"``: all
    antisymmetric (:func:`antisymmetric_generators`), right for isometries (rotations, SW
    translations), whose antisymmetry also fills in what the data never reach. ``"auto"``: the
    unconstrained fit first; a generator whose symmetric share, measured on the directions the data
    reach well (eigenvalues of Σ M_i M_iᵀ above ``reach``·λ_max), is below ``share_threshold`` is
    refitted antisymmetric, jointly with the others, after the unconstrained ones are subtracted.
    With fewer pairs than the k·d unknowns of a row the unconstrained fit says nothing, and ``auto``
    fits all antisymmetric (shares NaN). On MNIST pairs the shares are ≤ 0.002 for ∂x, ∂y and
    rotation, 0.18 for scaling.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}; got {form!r}")
    f64, t64, g64 = _as64(f, t, g)
    if t64.ndim == 1:
        t64 = t64[:, None]
    count = t64.shape[1]
    m, d = g64 + f64, 2 * (g64 - f64)
    if form == "antisymmetric" or (form == "auto" and len(f64) < count * f64.shape[1]):
        fitted = _antisymmetric_solve(m, d, t64, 1e-12, 1e-10, max_iter)
        return GeneratorFit(fitted, [True] * count, [float("nan")] * count)
    fitted = general_generators(f64, t64, g64)
    lam, u = torch.linalg.eigh(m.T @ m)
    reached = u[:, lam > reach * lam.max()]
    shares = [symmetric_share(generator, reached) for generator in fitted]
    antisymmetric = [form == "auto" and share < share_threshold for share in shares]
    chosen = [k for k in range(count) if antisymmetric[k]]
    if chosen:
        others = [k for k in range(count) if not antisymmetric[k]]
        for k in others:
            d = d - t64[:, k : k + 1] * (m @ fitted[k].T)
        fitted[chosen] = _antisymmetric_solve(m, d, t64[:, chosen], 1e-12, 1e-10, max_iter)
    return GeneratorFit(fitted, antisymmetric, shares)


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
