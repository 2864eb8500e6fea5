"""Naming real Lie algebras (float64): every catalogue family against an explicit basis, isomorphic
pairs named together, direct sums, reductive and non-reductive algebras."""

import pytest
import torch

from lconv_cli.lie import structure_constants
from lconv_cli.lie.bases import (
    complex_special_linear_basis,
    realify,
    so_basis,
    special_linear_basis,
    special_unitary_basis,
    symplectic_basis,
)
from lconv_cli.lie.catalogue import catalogue
from lconv_cli.lie.classification import centre, classify, radical


def report(basis: torch.Tensor, seed: int = 0):
    return classify(structure_constants(basis)[0], seed=seed)


def block_sum(*bases: torch.Tensor) -> torch.Tensor:
    """Generators of a direct sum acting block-diagonally."""
    sizes = [b.shape[-1] for b in bases]
    total, out, start = sum(sizes), [], 0
    for b, n in zip(bases, sizes):
        padded = torch.zeros(b.shape[0], total, total, dtype=torch.float64)
        padded[:, start : start + n, start : start + n] = b
        out.append(padded)
        start += n
    return torch.cat(out)


# (basis, a name the report must contain, dimension, Killing signature (+, −, 0), compact)
SIMPLE = {
    "so(3)": (lambda: so_basis(3), ["so(3)", "su(2)"], 3, (0, 3, 0), True),
    "so(2,1)": (lambda: so_basis(2, 1), ["so(2,1)", "sl(2,R)"], 3, (2, 1, 0), False),
    "sl(2,R)": (lambda: special_linear_basis(2), ["so(2,1)", "sl(2,R)", "su(1,1)", "sp(2,R)"], 3, (2, 1, 0), False),
    "su(2)": (lambda: special_unitary_basis(2), ["so(3)", "su(2)"], 3, (0, 3, 0), True),
    "su(1,1)": (lambda: special_unitary_basis(1, 1), ["sl(2,R)"], 3, (2, 1, 0), False),
    "sp(2,R)": (lambda: symplectic_basis(1), ["sl(2,R)"], 3, (2, 1, 0), False),
    "so(3,1)": (lambda: so_basis(3, 1), ["so(3,1)", "sl(2,C)"], 6, (3, 3, 0), False),
    "sl(2,C)": (lambda: complex_special_linear_basis(2), ["so(3,1)", "sl(2,C)"], 6, (3, 3, 0), False),
    "so(5)": (lambda: so_basis(5), ["so(5)"], 10, (0, 10, 0), True),
    "so(4,1)": (lambda: so_basis(4, 1), ["so(4,1)"], 10, (4, 6, 0), False),
    "so(3,2)": (lambda: so_basis(3, 2), ["so(3,2)", "sp(4,R)"], 10, (6, 4, 0), False),
    "sp(4,R)": (lambda: symplectic_basis(2), ["so(3,2)", "sp(4,R)"], 10, (6, 4, 0), False),
    "sl(3,R)": (lambda: special_linear_basis(3), ["sl(3,R)"], 8, (5, 3, 0), False),
    "su(3)": (lambda: special_unitary_basis(3), ["su(3)"], 8, (0, 8, 0), True),
    "su(2,1)": (lambda: special_unitary_basis(2, 1), ["su(2,1)"], 8, (4, 4, 0), False),
    "so(6)": (lambda: so_basis(6), ["so(6)", "su(4)"], 15, (0, 15, 0), True),
    "so(3,3)": (lambda: so_basis(3, 3), ["so(3,3)", "sl(4,R)"], 15, (9, 6, 0), False),
    "sl(4,R)": (lambda: special_linear_basis(4), ["so(3,3)", "sl(4,R)"], 15, (9, 6, 0), False),
    "so(4,2)": (lambda: so_basis(4, 2), ["so(4,2)", "su(2,2)"], 15, (8, 7, 0), False),
    "su(2,2)": (lambda: special_unitary_basis(2, 2), ["so(4,2)", "su(2,2)"], 15, (8, 7, 0), False),
    "so(7)": (lambda: so_basis(7), ["so(7)"], 21, (0, 21, 0), True),
    "sp(6,R)": (lambda: symplectic_basis(3), ["sp(6,R)"], 21, (12, 9, 0), False),
    "so(8)": (lambda: so_basis(8), ["so(8)"], 28, (0, 28, 0), True),
    "so(5,3)": (lambda: so_basis(5, 3), ["so(5,3)"], 28, (15, 13, 0), False),
    "sl(3,C)": (lambda: complex_special_linear_basis(3), ["sl(3,C)"], 16, (8, 8, 0), False),
}


@pytest.mark.parametrize("name", sorted(SIMPLE))
def test_simple_algebras_are_named(name):
    make, names, dim, signature, compact = SIMPLE[name]
    r = report(make())
    assert (r.dim, r.killing_signature, r.compact) == (dim, signature, compact)
    assert r.semisimple and r.reductive and r.radical_dim == 0 and len(r.simple) == 1
    for expected in names:
        assert expected in r.name.split(" ≅ "), (expected, r.name)


def test_b3_and_c3_share_dimension_and_rank_but_not_names():
    so7, sp6 = report(so_basis(7)), report(symplectic_basis(3))
    assert (so7.simple[0].letter, sp6.simple[0].letter) == ("B", "C")
    assert so7.name != sp6.name


def test_so10_is_named_and_has_45_dimensions():
    r = report(so_basis(10))
    assert r.dim == 45 and r.name.startswith("so(10)") and r.simple[0].letter == "D"


@pytest.mark.parametrize(
    "bases, expected",
    [
        ((so_basis(4),), "so(4) ≅ su(2) ⊕ su(2)"),
        ((so_basis(2, 2),), "so(2,2) ≅ sl(2,R) ⊕ sl(2,R)"),
        ((so_basis(3), special_linear_basis(3)), "sl(3,R) ⊕ su(2)"),
        ((so_basis(3, 1), so_basis(3), so_basis(2, 1)), "sl(2,C) ⊕ sl(2,R) ⊕ su(2)"),
    ],
)
def test_direct_sums_are_split_into_their_simple_ideals(bases, expected):
    r = report(block_sum(*bases))
    assert r.name == expected
    assert r.semisimple and len(r.simple) == (2 if len(bases) == 1 else len(bases))


def test_u2_is_su2_plus_a_compact_centre():
    gens = torch.cat([special_unitary_basis(2), realify(1j * torch.eye(2, dtype=torch.complex128))[None]])
    r = classify(structure_constants(gens)[0], central_compact=[True])
    assert r.name == "u(2) ≅ su(2) ⊕ u(1)" and r.compact and r.reductive and not r.semisimple


def test_reductive_algebras_name_their_abelian_part():
    gl2 = torch.cat([special_linear_basis(2), torch.eye(2, dtype=torch.float64)[None]])
    r = classify(structure_constants(gl2)[0], central_compact=[False])
    assert r.name == "gl(2,R) ≅ sl(2,R) ⊕ R"
    assert (r.reductive, r.semisimple, r.centre_dim, r.radical_dim) == (True, False, 1, 1)
    so2 = classify(structure_constants(so_basis(2))[0], central_compact=[True])
    assert so2.name == "so(2) ≅ u(1)" and so2.compact


def test_non_reductive_algebras_report_levi_factor_and_radical():
    # the Euclidean algebra e(3) = so(3) ⋉ R³ as 4×4 affine matrices
    gens = []
    for g in so_basis(3):
        m = torch.zeros(4, 4, dtype=torch.float64)
        m[:3, :3] = g
        gens.append(m)
    for i in range(3):
        m = torch.zeros(4, 4, dtype=torch.float64)
        m[i, 3] = 1.0
        gens.append(m)
    c = structure_constants(torch.stack(gens))[0]
    r = classify(c)
    assert not r.reductive and r.radical_dim == 3 and r.centre_dim == 0
    assert r.name == "unrecognised (Levi factor su(2) ≅ so(3), solvable radical of dim 3)"
    assert radical(c).shape[0] == 3 and centre(c).shape[0] == 0


def test_names_do_not_depend_on_the_basis_or_seed():
    rng = torch.Generator().manual_seed(3)
    basis = so_basis(3, 1)
    mixed = torch.einsum("ab,bij->aij", torch.randn(6, 6, generator=rng, dtype=torch.float64), basis)
    assert report(mixed, seed=5).name == report(basis).name


def test_catalogue_groups_only_isomorphic_families():
    groups = [name.split(" ≅ ") for name in catalogue().values()]
    assert ["su(2)", "so(3)"] in groups
    assert ["su(2,2)", "so(4,2)"] in groups
    assert ["sl(2,R)", "su(1,1)", "so(2,1)", "sp(2,R)"] in groups
    assert all(len(set(g)) == len(g) for g in groups)
    assert not any("so(4)" in g or "so(2,2)" in g for g in groups)  # not simple


def test_canonical_basis_has_a_diagonal_killing_form():
    r = report(so_basis(2, 1))
    c = r.structure_constants
    ad = c.transpose(1, 2)
    killing = torch.einsum("alj,bjl->ab", ad, ad)
    assert torch.allclose(killing, torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)), atol=1e-10)


@pytest.mark.parametrize("make", [lambda: so_basis(3, 1), lambda: so_basis(4), lambda: symplectic_basis(2)])
def test_names_survive_the_closure_error_of_learned_generators(make):
    """Generators known to ~1e-6 (as polished from a fit to data) are named as the exact ones, given a
    tolerance above their closure error; at the exact tolerance the noise would count as structure."""
    basis = make()
    noise = torch.randn(basis.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    c, residual = structure_constants(basis + 1e-6 * noise)
    assert 1e-8 < float(residual.max()) < 1e-4
    assert classify(c, tol=10 * float(residual.max()) + 1e-7).name == report(basis).name
