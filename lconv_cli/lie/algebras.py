"""Invariants whose symmetry algebra is to be discovered: built-in families with parameters, or the
user's own function.

A case acts on points made of ``copies`` vectors in R^n (one generator G acts on each copy) and
names invariants φ (N, copies·n) → (N,) or (N, m) the symmetry must preserve: its algebra is
{G : ∇φ_j(x)·(G x) = 0 for every x and every j}.

``data.algebra`` specs (the parenthesised forms need quoting on a shell command line):

    so<n>, so(n)           R^n, φ = Σ x_i²                          so(n),     dim n(n−1)/2
    so<p>_<q>, so(p,q)     R^{p+q}, φ = x₁² + … + x_p² − … − x_{p+q}²   so(p,q)
    sp<2n>, sp(2n)         u, v ∈ R^{2n}, φ = uᵀJv (J = [[0, I], [−I, 0]])   sp(2n,R), dim n(2n+1)
    sl<n>, det<n>, sl(n)   n vectors in R^n, φ = det[v₁ … v_n] (the volume they span)   sl(n,R)
    u<n>, u(n)             u, v ∈ R^{2n}, φ = (|u|², uᵀJv): a Hermitian form   u(n), dim n²
    conformal<n>           four points of R^n, φ = their two cross-ratios: vector fields of degree ≤ 2,
                           the conformal algebra (translations, rotations, dilation, special conformal)
    module:function        the user's invariant (``data.input_dim``, ``data.copies``)

Aliases kept from the first version: so3, so21 = so(2,1), so13 = so(1,3), sl2 = area of two vectors.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

import torch

from lconv_cli.errors import UserError
from lconv_cli.lie.bases import (
    realify,
    signature_metric,
    so_basis,
    special_linear_basis,
    special_unitary_basis,
    symplectic_basis,
    symplectic_form,
)
from lconv_cli.lie.metrics import killing_signature
from lconv_cli.lie.vector_fields import conformal_fields

ALIASES = {"so21": "so2_1", "so13": "so1_3"}
MAX_INPUT_DIM = 64

__all__ = [
    "ALGEBRAS",
    "AlgebraCase",
    "algebra_case",
    "finite_rows",
    "invariance_residuals",
    "invariant_gradients",
    "user_case",
]


@dataclass(frozen=True)
class AlgebraCase:
    """Invariants on (N, copies·n) points and, for built-in families, their symmetry algebra's basis
    (``basis`` None for a user's function: there is no known answer to compare with)."""

    name: str
    n: int
    copies: int
    invariant: Callable[[torch.Tensor], torch.Tensor]
    basis: Callable[[], torch.Tensor] | None
    description: str
    field_degree: int = 1  # 1: linear generators (n×n matrices); ≥ 2: polynomial vector fields, basis as coefficients

    @property
    def dim(self) -> int | None:
        return self.basis().shape[0] if self.basis is not None else None

    @cached_property
    def signature(self) -> tuple[int, int, int] | None:
        return killing_signature(self.basis()) if self.basis is not None and self.field_degree == 1 else None


def _quadratic(p: int, q: int, name: str) -> AlgebraCase:
    metric = signature_metric(p, q)
    signs = metric.diagonal()
    label = f"so({p})" if q == 0 else f"so({p},{q})"
    return AlgebraCase(
        name=name,
        n=p + q,
        copies=1,
        invariant=lambda x: (x * x * signs.to(x.dtype)).sum(-1),
        basis=lambda: so_basis(p, q),
        description=f"{label}: linear maps of R^{p + q} keeping a quadratic form of signature ({p}, {q})",
    )


def _symplectic(two_n: int, name: str) -> AlgebraCase:
    if two_n % 2 or two_n < 2:
        raise UserError(f"data.algebra={name}: sp needs an even dimension 2n ≥ 2, got {two_n}")
    n = two_n // 2
    form = symplectic_form(n)
    return AlgebraCase(
        name=name,
        n=two_n,
        copies=2,
        invariant=lambda x: torch.einsum("bi,ij,bj->b", x[:, :two_n], form.to(x.dtype), x[:, two_n:]),
        basis=lambda: symplectic_basis(n),
        description=f"sp({two_n},R): linear maps of R^{two_n} keeping the symplectic form uᵀJv of two vectors",
    )


def _determinant(n: int, name: str) -> AlgebraCase:
    if n < 2:
        raise UserError(f"data.algebra={name}: sl needs n ≥ 2, got {n}")
    return AlgebraCase(
        name=name,
        n=n,
        copies=n,
        invariant=lambda x: torch.linalg.det(x.reshape(x.shape[0], n, n)),
        basis=lambda: special_linear_basis(n),
        description=f"sl({n},R): volume-preserving linear maps of R^{n}, keep det of {n} vectors",
    )


def _unitary(n: int, name: str) -> AlgebraCase:
    form = symplectic_form(n)

    def invariant(x: torch.Tensor) -> torch.Tensor:
        u, v = x[:, : 2 * n], x[:, 2 * n :]
        return torch.stack([(u * u).sum(-1), torch.einsum("bi,ij,bj->b", u, form.to(x.dtype), v)], -1)

    def basis() -> torch.Tensor:
        centre = realify(1j * torch.eye(n, dtype=torch.complex128))[None]
        return torch.cat([special_unitary_basis(n), centre]) if n > 1 else centre

    return AlgebraCase(
        name=name,
        n=2 * n,
        copies=2,
        invariant=invariant,
        basis=basis,
        description=f"u({n}): linear maps of R^{2 * n} = C^{n} keeping |u|² and uᵀJv (a Hermitian form)",
    )


def cross_ratios(x: torch.Tensor, n: int) -> torch.Tensor:
    """(N, 2) the two conformal cross-ratios of four points of R^n, x (N, 4·n):
    d₁₂d₃₄ / (d₁₃d₂₄) and d₁₄d₂₃ / (d₁₃d₂₄), d_ij = |x_i − x_j|²."""
    p = x.reshape(x.shape[0], 4, n)

    def d(i: int, j: int) -> torch.Tensor:
        return (p[:, i] - p[:, j]).pow(2).sum(-1)

    return torch.stack([d(0, 1) * d(2, 3), d(0, 3) * d(1, 2)], -1) / (d(0, 2) * d(1, 3))[:, None]


def _conformal(n: int, name: str) -> AlgebraCase:
    if n < 2:
        raise UserError(f"data.algebra={name}: the conformal family needs n ≥ 2, got {n}")
    return AlgebraCase(
        name=name,
        n=n,
        copies=4,
        invariant=lambda x: cross_ratios(x, n),
        basis=lambda: torch.cat(list(conformal_fields(n, 2).values())),
        description=f"conformal algebra of R^{n}: vector fields keeping the cross-ratios of four points",
        field_degree=2,
    )


FAMILIES: dict[str, Callable[[str, list[int]], AlgebraCase]] = {
    "conformal": lambda name, k: _conformal(k[0], name),
    "so": lambda name, k: _quadratic(k[0], k[1] if len(k) > 1 else 0, name),
    "sp": lambda name, k: _symplectic(k[0], name),
    "sl": lambda name, k: _determinant(k[0], name),
    "det": lambda name, k: _determinant(k[0], name),
    "u": lambda name, k: _unitary(k[0], name),
}
SPEC = re.compile(r"^(so|sp|sl|det|u|conformal)(?:(\d+)(?:_(\d+))?|\((\d+)(?:,\s*(\d+|R))?\))$")


def algebra_case(spec: str) -> AlgebraCase:
    """The case for a ``data.algebra`` spec (module docstring); UserError naming the problem otherwise."""
    text = str(spec).strip()
    match = SPEC.match(ALIASES.get(text, text))
    if match is None:
        raise UserError(
            f"data.algebra={spec!r} is not a known family: use so<n>, so<p>_<q>, sp<2n>, sl<n>, u<n>, conformal<n> "
            "(or 'so(p,q)' …), or data.invariant=module:function for your own invariant"
        )
    family, a, b, c, d = match.groups()
    numbers = [int(v) for v in (a, b, c, d) if v is not None and v != "R"]
    if family == "so" and (sum(numbers) < 2 or (len(numbers) > 1 and numbers[1] > 0 and numbers[0] == 0)):
        raise UserError(f"data.algebra={spec!r}: so(p,q) needs p ≥ 1 and p + q ≥ 2")
    case = FAMILIES[family](text, numbers)
    if case.n * case.copies > MAX_INPUT_DIM:
        raise UserError(f"data.algebra={spec!r}: {case.n * case.copies} input coordinates; at most {MAX_INPUT_DIM}")
    return case


def import_module(name: str) -> ModuleType:
    """A module by dotted name, found from the working directory too, or a ``path/to/file.py``."""
    if name.endswith(".py"):
        path = Path(name).expanduser().resolve()
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None or not path.is_file():
            raise ImportError(f"no such file: {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    cwd = str(Path.cwd())
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    finally:
        if added:
            sys.path.remove(cwd)


def user_case(target: str, input_dim: int | None, copies: int = 1) -> AlgebraCase:
    """A user's invariant ``package.module:function`` (importable, or from the working directory) or
    ``path/to/file.py:function``: torch (N, copies·input_dim) float64 in, (N,) or
    (N, m) out, differentiable. Imported and called once on test points here, so that a bad name,
    signature or output shape is one clear error before any training."""
    module_name, _, function_name = str(target).rpartition(":")
    if not module_name or not function_name:
        raise UserError(f"data.invariant={target!r}: expected package.module:function")
    if input_dim is None or int(input_dim) < 1:
        raise UserError("data.invariant needs data.input_dim (the dimension n of each vector)")
    try:
        function = getattr(import_module(module_name), function_name)
    except (ImportError, AttributeError, OSError, SyntaxError) as error:
        raise UserError(f"data.invariant={target!r} cannot be imported: {error}") from None
    if not callable(function):
        raise UserError(f"data.invariant={target!r} is not callable")
    n, copies = int(input_dim), int(copies)
    probe = torch.randn(4, n * copies, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    try:
        value = function(probe.clone().requires_grad_(True))
    except Exception as error:
        raise UserError(f"data.invariant={target!r} failed on (4, {n * copies}) float64 input: {error!r}") from None
    if not isinstance(value, torch.Tensor) or value.shape[:1] != (4,) or value.dim() > 2:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise UserError(
            f"data.invariant={target!r} must return a tensor of shape (N,) or (N, m); got {shape} for N = 4"
        )
    if not value.requires_grad:
        raise UserError(f"data.invariant={target!r} returned a value that does not depend differentiably on its input")
    return AlgebraCase(
        name=str(target),
        n=n,
        copies=copies,
        invariant=function,
        basis=None,
        description=f"{target}: user invariant on {copies} × R^{n}",
    )


ALGEBRAS: dict[str, AlgebraCase] = {name: algebra_case(name) for name in ("so3", "so21", "so13", "sl2")}


def act(generators: torch.Tensor, points: torch.Tensor, copies: int) -> torch.Tensor:
    """(k, N, copies·n): each generator (k, n, n) applied to every copy in the points (N, copies·n)."""
    k, n, _ = generators.shape
    per_copy = points.reshape(points.shape[0], copies, n)
    return torch.einsum("kij,bcj->kbci", generators, per_copy).reshape(k, points.shape[0], copies * n)


def invariance_residuals(
    generators: torch.Tensor, points: torch.Tensor, gradients: torch.Tensor, copies: int
) -> torch.Tensor:
    """(k, N·m) r_i(x, j) = ∇φ_j(x)·(G_i x) / (‖∇φ_j(x)‖ ‖x‖ ‖G_i‖_F): scale-free first-order change
    of each invariant; gradients (N, m, copies·n) or (N, copies·n) for one invariant."""
    if gradients.dim() == 2:
        gradients = gradients[:, None]
    moved = act(generators, points, copies)  # (k, N, D)
    change = torch.einsum("knd,nmd->knm", moved, gradients)
    scale = (
        gradients.norm(dim=-1)[None]
        * points.norm(dim=-1)[None, :, None]
        * generators.flatten(1).norm(dim=-1)[:, None, None]
    )
    return (change / scale.clamp_min(1e-300)).flatten(1)


def invariant_gradients(case: AlgebraCase, points: torch.Tensor) -> torch.Tensor:
    """(N, m, copies·n) ∇φ_j at each point (autograd; φ any differentiable invariant with m outputs)."""
    x = points.detach().clone().requires_grad_(True)
    values = case.invariant(x)
    values = values[:, None] if values.dim() == 1 else values
    grads = [
        torch.autograd.grad(values[:, j].sum(), x, retain_graph=j + 1 < values.shape[1])[0]
        for j in range(values.shape[1])
    ]
    return torch.stack(grads, 1).detach()


def finite_rows(points: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """(N,) bool: rows whose coordinates and invariant gradients (N, m, D) are all finite."""
    return torch.isfinite(points).all(-1) & torch.isfinite(gradients).flatten(1).all(-1)
