"""Naming a real Lie algebra from its structure constants: radical, centre, Levi factor, simple
ideals, and for each simple ideal its complex type (A_r … G_2, from rank and root lengths) and real
form (Killing signature, real or complex type), matched against the catalogue in
:mod:`lconv_cli.lie.catalogue`.

Conventions: structure constants c (d, d, d) float64 with [e_i, e_j] = Σ_l c[i, j, l] e_l; a subspace
is a (m, d) matrix whose rows are coefficient vectors. Everything is pure linear algebra in float64;
the only randomness (generic elements) comes from a seeded generator, so results are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from lconv_cli.lie.catalogue import SimpleType, name_of_simple, name_of_sum

RTOL = 1e-7  # default relative tolerance: singular values below RTOL · largest count as zero (exact bases: ~1e-15)


def adjoint(c: torch.Tensor) -> torch.Tensor:
    """(d, d, d) ad matrices: ``ad[a] @ y`` = coefficients of [e_a, y]; ``ad[a][l, j] = c[a, j, l]``."""
    return c.transpose(1, 2)


def killing(c: torch.Tensor) -> torch.Tensor:
    """(d, d) Killing form K_ab = tr(ad_a ad_b)."""
    ad = adjoint(c)
    return torch.einsum("alj,bjl->ab", ad, ad)


def _row_space(m: torch.Tensor, rtol: float = RTOL) -> torch.Tensor:
    """Orthonormal rows spanning the row space of m (r, d)."""
    if m.numel() == 0:
        return m.new_zeros(0, m.shape[-1])
    _, s, vh = torch.linalg.svd(m, full_matrices=False)
    rank = int((s > rtol * s.max().clamp_min(1e-300)).sum()) if s.numel() else 0
    return vh[:rank]


def null_space(m: torch.Tensor, rtol: float = RTOL, atol: float = 0.0) -> torch.Tensor:
    """Orthonormal rows spanning {x : m x = 0} for m (r, d): singular values ≤ max(rtol · largest, atol) count as 0."""
    d = m.shape[-1]
    if m.numel() == 0:
        return torch.eye(d, dtype=m.dtype)
    _, s, vh = torch.linalg.svd(m, full_matrices=True)
    threshold = max(rtol * float(s.max()) if s.numel() else 0.0, atol)
    rank = int((s > threshold).sum()) if threshold > 0 else int((s > 0).sum())
    return vh[rank:]


def derived(c: torch.Tensor, tol: float = RTOL) -> torch.Tensor:
    """Orthonormal basis (rows) of [g, g], spanned by the rows c[i, j, :]."""
    return _row_space(c.reshape(-1, c.shape[-1]), tol)


def centre(c: torch.Tensor, tol: float = RTOL) -> torch.Tensor:
    """Basis (rows) of {x : [x, e_j] = 0 ∀ j}."""
    d = c.shape[0]
    return null_space(c.permute(1, 2, 0).reshape(d * d, d), tol)  # row (j, l): Σ_a x_a c[a, j, l]


def radical(c: torch.Tensor, tol: float = RTOL) -> torch.Tensor:
    """Basis (rows) of the solvable radical, the Killing-orthogonal of [g, g] (characteristic 0)."""
    return null_space(derived(c, tol) @ killing(c), tol)


def restrict(c: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Structure constants of the subalgebra spanned by the rows of ``basis`` (m, d), in that basis."""
    brackets = torch.einsum("ia,jb,abl->ijl", basis, basis, c)  # (m, m, d)
    coords = torch.linalg.lstsq(basis.T, brackets.reshape(-1, c.shape[0]).T).solution  # (m, m·m)
    return coords.T.reshape(basis.shape[0], basis.shape[0], basis.shape[0])


def quotient(c: torch.Tensor, ideal: torch.Tensor) -> torch.Tensor:
    """Structure constants of g / ideal, on the orthogonal complement of the ideal's rows."""
    complement = null_space(ideal) if ideal.shape[0] else torch.eye(c.shape[0], dtype=c.dtype)
    full = torch.cat([complement, ideal])
    brackets = torch.einsum("ia,jb,abl->ijl", complement, complement, c)
    coords = torch.linalg.lstsq(full.T, brackets.reshape(-1, c.shape[0]).T).solution[: complement.shape[0]]
    m = complement.shape[0]
    return coords.T.reshape(m, m, m)


def centroid(c: torch.Tensor, rng: torch.Generator, tol: float = RTOL) -> torch.Tensor:
    """Basis (q, d, d) of the linear maps commuting with every ad_x: q = Σ over simple ideals of 1
    (real type) or 2 (complex type) for a semisimple algebra. Two generic elements generate a
    semisimple algebra, so commuting with their ad matrices suffices."""
    d = c.shape[0]
    ad = adjoint(c)
    eye = torch.eye(d, dtype=c.dtype)
    rows = []
    for _ in range(2):
        a = torch.einsum("a,alj->lj", torch.randn(d, generator=rng, dtype=c.dtype), ad)
        rows.append(torch.kron(eye, a.T.contiguous()) - torch.kron(a, eye))  # row-major vec(T a − a T)
    return null_space(torch.cat(rows), rtol=tol).reshape(-1, d, d)


@dataclass
class SimpleIdeal:
    """One simple ideal of the Levi factor: its basis rows (in the Levi factor's coordinates) and type."""

    basis: torch.Tensor
    type: SimpleType


def simple_ideals(c: torch.Tensor, rng: torch.Generator, tol: float = RTOL) -> list[SimpleIdeal]:
    """The simple ideals of a semisimple algebra: eigenspaces of a generic element of the centroid
    (a real eigenvalue per real-type ideal, a conjugate pair per complex-type one)."""
    d = c.shape[0]
    if d == 0:
        return []
    maps = centroid(c, rng, tol)
    t = torch.einsum("q,qij->ij", torch.randn(maps.shape[0], generator=rng, dtype=c.dtype), maps)
    t = t / t.norm() * d**0.5
    values = torch.linalg.eigvals(t)
    ideals, used = [], torch.zeros(d, dtype=torch.bool)
    for i in range(d):
        if used[i]:
            continue
        lam = values[i]
        cluster = max(1e-4, 100 * tol)  # eigenvalues of different ideals are O(1) apart
        close = (values - lam).abs() < cluster
        conj = (values - lam.conj()).abs() < cluster
        complex_type = bool(abs(float(lam.imag)) > cluster)
        used |= close | conj
        eye = torch.eye(d, dtype=c.dtype)
        if complex_type:
            poly = t @ t - 2 * float(lam.real) * t + float(lam.abs() ** 2) * eye
        else:
            poly = t - float(lam.real) * eye
        basis = null_space(poly, atol=max(1e-6, 10 * tol) * (float(poly.norm()) + 1))  # t: eigenvalues of order 1
        basis = _row_space(basis)
        ideals.append(SimpleIdeal(basis, simple_type(restrict(c, basis), complex_type, rng, tol)))
    return ideals


def simple_type(c: torch.Tensor, complex_type: bool, rng: torch.Generator, tol: float = RTOL) -> SimpleType:
    """Complex type (letter, rank) from a generic element's centraliser (a Cartan subalgebra) and
    the root lengths in the Killing metric; with the Killing signature and real/complex type."""
    d = c.shape[0]
    ad = adjoint(c)
    x = torch.einsum("a,alj->lj", torch.randn(d, generator=rng, dtype=c.dtype), ad)
    cartan = null_space(x, rtol=tol)  # rows: a basis of the centraliser of x
    rank = cartan.shape[0]
    values, vectors = torch.linalg.eig(x)
    roots = values.abs() > tol * values.abs().max()
    vectors = vectors[:, roots]
    ad_h = torch.einsum("ha,alj->hlj", cartan, ad).to(vectors.dtype)  # (rank, d, d)
    alpha = torch.einsum("lr,hlj,jr->rh", vectors.conj(), ad_h, vectors) / (vectors.abs() ** 2).sum(0)[:, None]
    metric = (cartan @ killing(c) @ cartan.T).to(alpha.dtype)
    lengths = torch.einsum("rh,hk,rk->r", alpha, torch.linalg.pinv(metric), alpha).real
    long = int((lengths > 0.75 * lengths.max()).sum()) if lengths.numel() else 0
    eig = torch.linalg.eigvalsh(killing(c))
    zero = tol * float(eig.abs().max())
    signature = (int((eig > zero).sum()), int((eig < -zero).sum()))
    factor = 2 if complex_type else 1
    return SimpleType.from_invariants(
        dim=d // factor, rank=rank // factor, long_roots=long // factor, signature=signature, complex_type=complex_type
    )


@dataclass
class AlgebraReport:
    """What a Lie algebra is: dimension, Killing signature (positive, negative, zero), radical and
    centre dimensions, semisimple / reductive / compact, the simple summands of its Levi factor and
    a name (``unrecognised`` with these invariants when outside the catalogue)."""

    dim: int
    killing_signature: tuple[int, int, int]
    radical_dim: int
    centre_dim: int
    derived_dim: int
    semisimple: bool
    reductive: bool
    compact: bool
    simple: list[SimpleType] = field(default_factory=list)
    name: str = "unrecognised"
    structure_constants: torch.Tensor | None = None

    def summary(self) -> dict[str, object]:
        """JSON-friendly fields (no tensors)."""
        return {
            "name": self.name,
            "dim": self.dim,
            "killing_signature": list(self.killing_signature),
            "radical_dim": self.radical_dim,
            "centre_dim": self.centre_dim,
            "derived_dim": self.derived_dim,
            "semisimple": self.semisimple,
            "reductive": self.reductive,
            "compact": self.compact,
            "simple_summands": [s.label for s in self.simple],
        }


def killing_orthonormal_basis(c: torch.Tensor) -> torch.Tensor:
    """Rows: a basis in which the Killing form is diag(+1 …, −1 …, 0 …) (the zero block
    orthonormal in the given coordinates); unique up to rotations within each block."""
    values, vectors = torch.linalg.eigh(killing(c))
    scale = float(values.abs().max()) if values.numel() else 0.0
    order = torch.argsort(-values)
    rows = []
    for i in order.tolist():
        v = vectors[:, i]
        rows.append(v / values[i].abs().sqrt() if abs(float(values[i])) > 1e-8 * scale else v)
    return torch.stack(rows) if rows else c.new_zeros(0, 0)


def classify(
    c: torch.Tensor, central_compact: list[bool] | None = None, seed: int = 0, tol: float = RTOL
) -> AlgebraReport:
    """Report on the real Lie algebra with structure constants c (d, d, d).

    ``central_compact``: for each centre basis element, whether it generates a bounded one-parameter
    group in the user's representation (purely imaginary spectrum): names the abelian part u(1) or R.
    None: abelian parts are named R. ``tol``: relative size below which a singular value or
    eigenvalue counts as zero; structure constants from learned generators need it above their
    closure error."""
    c = c.detach().to(torch.float64).cpu()
    d = c.shape[0]
    rng = torch.Generator().manual_seed(seed)
    eig = torch.linalg.eigvalsh(killing(c)) if d else c.new_zeros(0)
    zero = tol * float(eig.abs().max()) if d and float(eig.abs().max()) > 0 else 0.0
    signature = (int((eig > zero).sum()), int((eig < -zero).sum()), int((eig.abs() <= zero).sum()))
    rad, cen, der = radical(c, tol), centre(c, tol), derived(c, tol)
    reductive = rad.shape[0] == cen.shape[0]
    levi = quotient(c, rad)
    ideals = simple_ideals(levi, rng, tol)
    simple = [ideal.type for ideal in ideals]
    semisimple_compact = all(s.compact for s in simple)
    central = central_compact if central_compact is not None else [False] * cen.shape[0]
    compact = reductive and semisimple_compact and all(central)
    if reductive:
        name = name_of_sum(simple, abelian_compact=sum(central), abelian_noncompact=cen.shape[0] - sum(central))
    else:
        levi_name = name_of_sum(simple, 0, 0) if simple else "0"
        name = f"unrecognised (Levi factor {levi_name}, solvable radical of dim {rad.shape[0]})"
    canonical = killing_orthonormal_basis(c) if d else c.new_zeros(0, 0)
    constants = restrict(c, canonical) if d and signature[2] == 0 else c
    return AlgebraReport(
        dim=d,
        killing_signature=signature,
        radical_dim=rad.shape[0],
        centre_dim=cen.shape[0],
        derived_dim=der.shape[0],
        semisimple=rad.shape[0] == 0,
        reductive=reductive,
        compact=compact,
        simple=simple,
        name=name,
        structure_constants=constants,
    )


def name_simple(c: torch.Tensor, seed: int = 0) -> str:
    """The catalogue name of a simple algebra with structure constants c (for tests and reports)."""
    ideals = simple_ideals(c.detach().to(torch.float64), torch.Generator().manual_seed(seed))
    if len(ideals) != 1:
        raise ValueError(f"not simple: {len(ideals)} simple ideals")
    return name_of_simple(ideals[0].type)
