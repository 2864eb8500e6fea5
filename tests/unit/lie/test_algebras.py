"""The algebra-discovery cases in float64: true algebras keep their invariant, close, have their signature."""

import pytest
import torch

from lconv_cli.errors import UserError
from lconv_cli.lie import closure_error, killing_signature, structure_constants
from lconv_cli.lie.algebras import ALGEBRAS, algebra_case, invariance_residuals, invariant_gradients, user_case
from lconv_cli.lie.classification import classify


@pytest.mark.parametrize("name", sorted(ALGEBRAS))
def test_true_algebras_keep_their_invariant_and_close(name):
    case = ALGEBRAS[name]
    basis = case.basis()
    points = torch.randn(64, case.n * case.copies, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    residuals = invariance_residuals(basis, points, invariant_gradients(case, points), case.copies)
    assert residuals.abs().max() < 1e-13
    assert closure_error(basis) < 1e-13
    assert killing_signature(basis) == case.signature
    assert basis.shape[0] == {"so3": 3, "so21": 3, "so13": 6, "sl2": 3}[name]


FAMILY_SPECS = {  # spec: (input coordinates, algebra dimension, a name the truth must carry)
    "so4": (4, 6, "so(4)"),
    "so5": (5, 10, "so(5)"),
    "so10": (10, 45, "so(10)"),
    "so2_2": (4, 6, "so(2,2)"),
    "so1_4": (5, 10, "so(4,1)"),
    "so(2,2)": (4, 6, "so(2,2)"),
    "so(4)": (4, 6, "so(4)"),
    "sp4": (8, 10, "sp(4,R)"),
    "sp(6)": (12, 21, "sp(6,R)"),
    "sl3": (9, 8, "sl(3,R)"),
    "det4": (16, 15, "sl(4,R)"),
    "u2": (8, 4, "u(2)"),
    "u3": (12, 9, "u(3)"),
    "so3": (3, 3, "so(3)"),
    "so21": (3, 3, "so(2,1)"),
    "so13": (4, 6, "so(3,1)"),
    "sl2": (4, 3, "sl(2,R)"),
}


@pytest.mark.parametrize("spec", sorted(FAMILY_SPECS))
def test_family_specs_give_invariants_their_algebras_keep(spec):
    coordinates, dim, name = FAMILY_SPECS[spec]
    case = algebra_case(spec)
    assert case.n * case.copies == coordinates and case.dim == dim
    basis = case.basis()
    points = torch.randn(64, coordinates, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    residuals = invariance_residuals(basis, points, invariant_gradients(case, points), case.copies)
    assert residuals.abs().max() < 1e-12
    assert closure_error(basis) < 1e-12
    assert name in classify(structure_constants(basis)[0], central_compact=[True] * (spec[0] == "u")).name


def test_the_invariants_leave_out_what_is_not_in_the_algebra():
    """gl(n) minus the algebra changes the invariant: the truth is the whole symmetry, not a part."""
    for spec in ("so2_2", "sp4", "sl3", "u2"):
        case = algebra_case(spec)
        n = case.n
        points = torch.randn(256, n * case.copies, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        everything = torch.eye(n * n, dtype=torch.float64).reshape(n * n, n, n)
        r = invariance_residuals(everything, points, invariant_gradients(case, points), case.copies)
        evals = torch.linalg.eigvalsh(r @ r.T / r.shape[1])
        assert int((evals < 1e-12).sum()) == case.dim, spec


@pytest.mark.parametrize("spec", ["so", "so0_3", "sp3", "sl1", "xy4", "so(3", "so65"])
def test_bad_family_specs_are_one_line_errors(spec):
    with pytest.raises(UserError):
        algebra_case(spec)


def test_user_invariants_are_checked_before_training(tmp_path):
    case = user_case("tests.user_invariants:two_invariants", 3)
    assert case.basis is None and case.dim is None and (case.n, case.copies) == (3, 1)
    points = torch.randn(8, 3, dtype=torch.float64)
    assert invariant_gradients(case, points).shape == (8, 2, 3)
    bad = {
        "tests.user_invariants:wrong_shape": "shape",
        "tests.user_invariants:missing": "cannot be imported",
        "tests.no_such_module:f": "cannot be imported",
        "tests.user_invariants:raises": "broken invariant",
        "tests.user_invariants:not_differentiable": "differentiabl",
        "tests.user_invariants:NOT_A_FUNCTION": "not callable",
        "no_colon": "package.module:function",
        f"{tmp_path / 'absent.py'}:f": "no such file",
    }
    for target, words in bad.items():
        with pytest.raises(UserError, match=words):
            user_case(target, 3)
    with pytest.raises(UserError, match="input_dim"):
        user_case("tests.user_invariants:two_invariants", None)
    source = tmp_path / "mine.py"
    source.write_text("def phi(x):\n    return (x * x).sum(-1)\n")
    assert user_case(f"{source}:phi", 2).name.endswith("mine.py:phi")
