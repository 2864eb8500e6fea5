"""Polynomial vector fields on R^n: a basis, evaluation, Lie brackets, structure constants, and the
named fields of the conformal algebra (translations, rotations, dilation, special conformal).

A field V(x) = Σ_{a,i} c[a, i] m_a(x) e_i is stored as coefficients c (M, n) (or flattened
(M·n,)) over the monomials m_a(x) = Π_j x_j^{p_aj} of total degree ≤ ``degree`` (exponents p (M, n),
constant first). Its flow moves a point x by dx/dt = V(x); the bracket of two fields is
``[V, W](x) = DW(x) V(x) − DV(x) W(x)``, which for linear fields V = A x, W = B x is ``(BA − AB) x``.
Everything is float64 and deterministic.
"""

from __future__ import annotations

import itertools

import torch

from lconv_cli.lie.metrics import spectral_dimension


def monomial_exponents(n: int, degree: int) -> torch.Tensor:
    """(M, n) int64 exponents of every monomial in n variables of total degree ≤ ``degree``,
    by degree, then lexicographically descending (x₁ first)."""
    rows = []
    for total in range(degree + 1):
        rows += sorted((p for p in itertools.product(range(total + 1), repeat=n) if sum(p) == total), reverse=True)
    return torch.tensor(rows, dtype=torch.int64).reshape(-1, n)


def monomials(points: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """(N, M) m_a(x) at points (N, n)."""
    return torch.prod(points[:, None, :] ** exponents[None].to(points.dtype), dim=-1)


def monomial_gradients(points: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """(N, M, n) ∂m_a/∂x_j = p_aj x^{p_a − e_j}."""
    n = exponents.shape[1]
    eye = torch.eye(n, dtype=torch.int64)
    lowered = (exponents[:, None, :] - eye[None]).clamp_min(0)  # (M, n, n): exponents of ∂_j m_a
    values = torch.prod(points[:, None, None, :] ** lowered[None].to(points.dtype), dim=-1)  # (N, M, n)
    return values * exponents[None].to(points.dtype)


def monomial_laplacians(points: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """(N, M) Δm_a = Σ_j p_aj (p_aj − 1) x^{p_a − 2 e_j}."""
    out = torch.zeros(points.shape[0], exponents.shape[0], dtype=points.dtype)
    for j in range(exponents.shape[1]):
        lowered = exponents.clone()
        lowered[:, j] = (lowered[:, j] - 2).clamp_min(0)
        weight = (exponents[:, j] * (exponents[:, j] - 1)).to(points.dtype)
        out += monomials(points, lowered) * weight
    return out


def linear_fields(matrices: torch.Tensor) -> torch.Tensor:
    """(k, M·n) coefficients, in the degree-1 basis, of the linear fields V(x) = A x of matrices (k, n, n)."""
    k, n = matrices.shape[0], matrices.shape[-1]
    coeffs = torch.zeros(k, n + 1, n, dtype=matrices.dtype)
    coeffs[:, 1:, :] = matrices.transpose(1, 2)  # monomial 1 + j is x_j (exponents: constant, then x₁ … x_n)
    return coeffs.reshape(k, -1)


def evaluate(coeffs: torch.Tensor, points: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """(k, N, n) values of k fields (k, M·n) at points (N, n)."""
    k, (m, n) = coeffs.shape[0], exponents.shape
    return torch.einsum("kai,na->kni", coeffs.reshape(k, m, n), monomials(points, exponents))


def jacobians(coeffs: torch.Tensor, points: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """(k, N, n, n) DV(x)[i, j] = ∂V_i/∂x_j."""
    k, (m, n) = coeffs.shape[0], exponents.shape
    return torch.einsum("kai,naj->knij", coeffs.reshape(k, m, n), monomial_gradients(points, exponents))


def divergences(coeffs: torch.Tensor, points: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """(k, N) div V(x) = Σ_i ∂V_i/∂x_i."""
    k, (m, n) = coeffs.shape[0], exponents.shape
    return torch.einsum("kai,nai->kn", coeffs.reshape(k, m, n), monomial_gradients(points, exponents))


def bracket_values(coeffs: torch.Tensor, points: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """(k, k, N, n) ``[V_a, V_b](x) = DV_b V_a − DV_a V_b`` at the points."""
    values = evaluate(coeffs, points, exponents)  # (k, N, n)
    jac = jacobians(coeffs, points, exponents)  # (k, N, n, n)
    dv_b_v_a = torch.einsum("bnij,anj->abni", jac, values)
    return dv_b_v_a - dv_b_v_a.transpose(0, 1)


def field_structure_constants(
    coeffs: torch.Tensor, points: torch.Tensor, exponents: torch.Tensor
) -> tuple[torch.Tensor, float]:
    """(c (k, k, k), closure error): [V_i, V_j] ≈ Σ_l c_ijl V_l by least squares on the values at the
    points; the error is max over pairs of ‖misfit‖ / (‖V_i‖ ‖V_j‖) (values as vectors over points)."""
    k = coeffs.shape[0]
    values = evaluate(coeffs, points, exponents).reshape(k, -1)  # (k, N·n)
    brackets = bracket_values(coeffs, points, exponents).reshape(k * k, -1)
    solution = torch.linalg.lstsq(values.T, brackets.T).solution  # (k, k·k)
    misfit = (values.T @ solution - brackets.T).norm(dim=0).reshape(k, k)
    norms = values.norm(dim=1)
    error = float((misfit / (norms[:, None] * norms[None, :]).clamp_min(1e-300)).max()) if k else 0.0
    return solution.T.reshape(k, k, k), error


def conformal_fields(n: int, degree: int = 2) -> dict[str, torch.Tensor]:
    """The conformal algebra of R^n as fields in the degree-``degree`` basis, by family:
    translations ∂_i, rotations x_j ∂_i − x_i ∂_j (i < j), the dilation x·∇, and the special
    conformal K_i = 2 x_i (x·∇) − |x|² ∂_i. Each (count, M·n)."""
    exponents = monomial_exponents(n, degree)
    index = {tuple(p.tolist()): a for a, p in enumerate(exponents)}
    unit = [tuple(int(i == j) for j in range(n)) for i in range(n)]

    def field(terms: list[tuple[float, tuple[int, ...], int]]) -> torch.Tensor:
        c = torch.zeros(len(exponents), n, dtype=torch.float64)
        for weight, power, direction in terms:
            c[index[power], direction] += weight
        return c.reshape(-1)

    zero = (0,) * n

    def plus(*powers: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(map(sum, zip(*powers)))

    families = {
        "translation": [field([(1.0, zero, i)]) for i in range(n)],
        "rotation": [field([(1.0, unit[j], i), (-1.0, unit[i], j)]) for i in range(n) for j in range(i + 1, n)],
        "dilation": [field([(1.0, unit[i], i) for i in range(n)])],
    }
    if degree >= 2:
        families["special conformal"] = [
            field(
                [(2.0, plus(unit[i], unit[j]), j) for j in range(n)]
                + [(-1.0, plus(unit[j], unit[j]), i) for j in range(n)]
            )
            for i in range(n)
        ]
    return {name: torch.stack(fields) for name, fields in families.items()}


def family_content(found: torch.Tensor, families: dict[str, torch.Tensor], tol: float = 1e-6) -> dict[str, int]:
    """How many independent fields of each named family lie in span(found) (coefficient space):
    the singular values of Q_found^T Q_family that are 1 within ``tol``."""
    if found.shape[0] == 0:
        return {name: 0 for name in families}
    q_found, _ = torch.linalg.qr(found.T)
    content = {}
    for name, fields in families.items():
        q_family, _ = torch.linalg.qr(fields.T)
        cosines = torch.linalg.svdvals(q_found.T @ q_family)
        content[name] = int((cosines > 1 - tol).sum())
    return content


def field_invariance_residuals(
    coeffs: torch.Tensor, points: torch.Tensor, gradients: torch.Tensor, copies: int, exponents: torch.Tensor
) -> torch.Tensor:
    """(k, N·m) first-order change of each of m invariants when every copy of a point moves along
    the field: Σ_c ∇_c φ_j · V(x_c), divided by ‖∇φ_j(x)‖ and by the field's RMS size over the
    points (scale-free). points (N, copies·n), gradients (N, m, copies·n)."""
    k, n = coeffs.shape[0], exponents.shape[1]
    count = points.shape[0]
    moved = evaluate(coeffs, points.reshape(count * copies, n), exponents).reshape(k, count, copies * n)
    change = torch.einsum("knd,nmd->knm", moved, gradients)
    size = moved.pow(2).sum(-1).mean(-1).sqrt()  # (k,)
    scale = gradients.norm(dim=-1)[None] * size[:, None, None]
    return (change / scale.clamp_min(1e-300)).flatten(1)


def invariant_fields(
    points: torch.Tensor, gradients: torch.Tensor, copies: int, n: int, degree: int, tol: float, min_gap: float
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The fields of degree ≤ ``degree`` on R^n that keep the invariants: the near-null eigenvectors of
    the invariance operator over the whole monomial basis (no training: the problem is linear in the
    coefficients). Returns (found (dim, M·n) unit rows, eigenvalues (M·n,), spectral gap)."""
    exponents = monomial_exponents(n, degree)
    basis = torch.eye(exponents.shape[0] * n, dtype=torch.float64)
    r = field_invariance_residuals(basis, points, gradients, copies, exponents)  # basis fields scaled to RMS 1
    fields, evals = _spectral_fields(r, points.reshape(-1, n), exponents)
    dim, gap = spectral_dimension(evals, tol, min_gap)
    return fields[:dim], evals, gap


def _spectral_fields(
    residuals: torch.Tensor, points: torch.Tensor, exponents: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(fields (K, M·n) unit rows in the monomial basis, eigenvalues (K,) ascending) of the operator
    whose rows ``residuals`` (K, ·) belong to the K basis fields, each scaled to RMS size 1 over
    ``points`` (P, n); the fields are the eigenvectors with that scaling undone."""
    evals, evecs = torch.linalg.eigh(residuals @ residuals.T / residuals.shape[1])
    basis = torch.eye(residuals.shape[0], dtype=torch.float64)
    size = evaluate(basis, points, exponents).pow(2).sum(-1).mean(-1).sqrt()
    fields = evecs.T / size[None]
    return fields / fields.norm(dim=1, keepdim=True).clamp_min(1e-300), evals


def continuity_residuals(
    coeffs: torch.Tensor, points: torch.Tensor, scores: torch.Tensor, exponents: torch.Tensor
) -> torch.Tensor:
    """(k, N) how far each field is from keeping a density p: the continuity equation
    div(pV)/p = V·∇log p + div V at the points, with ``scores`` (N, n) = ∇log p there. Zero everywhere
    iff the flow of V carries the distribution into itself. Divided by the field's RMS size over the
    points and by the RMS score (scale-free)."""
    values = evaluate(coeffs, points, exponents)  # (k, N, n)
    residual = torch.einsum("kni,ni->kn", values, scores) + divergences(coeffs, points, exponents)
    size = values.pow(2).sum(-1).mean(-1).sqrt()  # (k,)
    return residual / (size[:, None] * scores.pow(2).sum(-1).mean().sqrt()).clamp_min(1e-300)


def closed_cut(
    evals: torch.Tensor,
    fields: torch.Tensor,
    points: torch.Tensor,
    exponents: torch.Tensor,
    min_gap: float,
    closure: float,
    default: tuple[int, float],
) -> tuple[int, float]:
    """(dim, gap): among the cuts of the ascending spectrum ``evals`` (K,) at a gap ≥ ``min_gap``, the
    largest gap whose span ``fields[:cut]`` (K, M·n) closes under brackets at ``points`` to
    ``closure``; ``default`` if none does (or if it keeps every field or none)."""
    dim = default[0]
    if not 0 < dim < len(evals):
        return default
    ratios = evals[1:] / evals[:-1].clamp_min(1e-15 * float(evals.abs().max()))
    for cut in (ratios.argsort(descending=True) + 1).tolist():
        if float(ratios[cut - 1]) < min_gap:
            break
        if field_structure_constants(fields[:cut], points, exponents)[1] <= closure:
            return cut, float(ratios[cut - 1])
    return default


def measure_preserving_fields(
    points: torch.Tensor, scores: torch.Tensor, degree: int, tol: float, min_gap: float, closure: float | None = None
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The fields of degree ≤ ``degree`` whose flows keep the distribution with score ∇log p
    (``scores`` (N, n) at samples ``points`` (N, n)): the near-null eigenvectors of the continuity
    operator over the whole monomial basis (linear in the coefficients). The dimension is the cut at
    the largest spectral gap ≥ ``min_gap``; with ``closure``, the largest such gap whose span closes
    under brackets to that tolerance (symmetries form a Lie algebra; a near-symmetry of the data, such
    as the dilation of a shell near the light cone, can sit just above a gap and break closure).
    Returns (found (dim, M·n) unit rows, eigenvalues (M·n,), gap)."""
    n = points.shape[1]
    exponents = monomial_exponents(n, degree)
    basis = torch.eye(exponents.shape[0] * n, dtype=torch.float64)
    fields, evals = _spectral_fields(continuity_residuals(basis, points, scores, exponents), points, exponents)
    dim, gap = spectral_dimension(evals, tol, min_gap)
    if closure is not None:
        dim, gap = closed_cut(evals, fields, points[:1024], exponents, min_gap, closure, (dim, gap))
    return fields[:dim], evals, gap
