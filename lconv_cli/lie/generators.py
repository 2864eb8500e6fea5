"""Generators of transformations of images, as matrices acting on flattened pixels.

Conventions: an image is an (n, n) array indexed [row, column] and flattened row-major
(pixel index = row·n + column). The coordinate x runs along columns and y along rows,
both centred on the image centre: x, y ∈ {−(n−1)/2, …, (n−1)/2}. Derivatives are the
Shannon–Whittaker derivative matrices (periodic, period n), so every operator here is
an exact generator: exp(θ L) is a one-parameter group.
"""

from __future__ import annotations

import torch

from lconv_cli.lie.shannon_whittaker import sw_derivative_matrix, sw_kernel_derivative


def centered_coords(n: int) -> torch.Tensor:
    """(n,) float64 coordinates k − (n−1)/2 for k = 0..n−1; symmetric about 0."""
    return torch.arange(n, dtype=torch.float64) - (n - 1) / 2


def derivative_operators_2d(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂x, ∂y), each (n², n²) float64: ∂x differentiates along columns, ∂y along rows."""
    d = sw_derivative_matrix(n)
    eye = torch.eye(n, dtype=torch.float64)
    return torch.kron(eye, d), torch.kron(d, eye)


def coordinate_operators_2d(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(X, Y), each (n², n²) float64 diagonal: multiplication by the pixel's x resp. y coordinate."""
    c = centered_coords(n)
    ones = torch.ones(n, dtype=torch.float64)
    return torch.diag(torch.kron(ones, c)), torch.diag(torch.kron(c, ones))


def grid_adjacency_2d(n: int, normalised: bool = True) -> torch.Tensor:
    """(n², n²) float64 adjacency of the n × n pixel grid (4 neighbours, no wrap-around).

    ``normalised``: D^-1/2 A D^-1/2 with D the degrees, the propagation matrix of a graph
    convolution; one L-conv layer with this single fixed "generator" is a GCN layer.
    """
    line = torch.diag(torch.ones(n - 1, dtype=torch.float64), 1)
    line = line + line.T
    eye = torch.eye(n, dtype=torch.float64)
    adjacency = torch.kron(eye, line) + torch.kron(line, eye)
    if not normalised:
        return adjacency
    scale = adjacency.sum(1).rsqrt()
    return scale[:, None] * adjacency * scale[None, :]


CONVENTIONS = ("centred", "paper")


def rotation_generator_2d(n: int, conventions: str = "centred") -> torch.Tensor:
    """(n², n²) float64 rotation generator L_SW = x∂y − y∂x (antisymmetric).

    exp(θL) is orthogonal for every θ. In (x, y) coordinates it is the angular momentum
    operator ∂_φ; with y pointing down the rows, positive θ turns the picture clockwise.

    ``conventions="centred"`` (ours): centred grid, SW derivatives of period n.
    ``conventions="paper"``: the official L-conv code's reference, see
    :func:`paper_rotation_generator_2d`.
    """
    if conventions == "paper":
        return paper_rotation_generator_2d(n)
    if conventions != "centred":
        raise ValueError(f"conventions must be one of {CONVENTIONS}, got {conventions!r}")
    dx, dy = derivative_operators_2d(n)
    x, y = coordinate_operators_2d(n)
    return x @ dy - y @ dx


def paper_rotation_generator_2d(n: int) -> torch.Tensor:
    """(n², n²) float64 rotation generator as the official L-conv notebooks build it.

    Coordinates k − n/2 (half a pixel off the image centre), SW derivatives of period 2n
    (Nyquist term dropped) evaluated at the pixel differences of one row or column, and
    L = r·∂_c − c·∂_r with r the row and c the column coordinate. Antisymmetric, so exp(θL)
    is still an orthogonal one-parameter group, but it is not the generator of any
    resampling of the n×n image: this is the reference the paper's |cos| scores used.
    """
    k = torch.arange(n, dtype=torch.float64)
    diff = k[:, None] - k[None, :]
    deriv = sw_kernel_derivative(diff, 2 * n, "drop")
    eye = torch.eye(n, dtype=torch.float64)
    d_row, d_col = torch.kron(deriv, eye), torch.kron(eye, deriv)
    coord = k - n / 2
    ones = torch.ones(n, dtype=torch.float64)
    row, col = torch.diag(torch.kron(coord, ones)), torch.diag(torch.kron(ones, coord))
    return row @ d_col - col @ d_row


def scaling_generator_2d(n: int) -> torch.Tensor:
    """(n², n²) float64 isotropic scaling generator x∂x + y∂y."""
    return vector_field_operator(n, lambda x, y: x, lambda x, y: y)


def vector_field_operator(n: int, field_x, field_y, normalised: bool = False) -> torch.Tensor:
    """(n², n²) float64 operator of the vector field a(x, y)∂x + b(x, y)∂y: diag(a)∂x + diag(b)∂y.

    ``field_x`` and ``field_y`` map the pixel coordinate tensors (x, y), each (n²,), to (n²,) values.
    Coordinates are in pixels, or with ``normalised`` in units of half the image width
    (:func:`normalised_coords`), so that one field has the same operator on every grid size.
    """
    dx, dy = derivative_operators_2d(n)
    x, y = (torch.diagonal(op) for op in coordinate_operators_2d(n))
    if normalised:
        x, y, dx, dy = x * (2 / n), y * (2 / n), dx * (n / 2), dy * (n / 2)
    return torch.diag(field_x(x, y)) @ dx + torch.diag(field_y(x, y)) @ dy


def normalised_coords(n: int) -> torch.Tensor:
    """(n,) float64 pixel-centre coordinates (2k + 1)/n − 1 on [−1, 1]: ``grid_sample``'s with align_corners=False."""
    return centered_coords(n) * (2 / n)


# Monomials of the vector-field bases, in the order of the neural-symmetry-detection code:
# first every monomial times ∂x, then every monomial times ∂y.
_MONOMIALS = {
    "affine": ("1", "x", "y"),
    "quadratic": ("1", "x", "y", "x2", "xy", "y2"),
}
_MONOMIAL_FN = {
    "0": lambda x, y: torch.zeros_like(x),
    "1": lambda x, y: torch.ones_like(x),
    "x": lambda x, y: x,
    "y": lambda x, y: y,
    "x2": lambda x, y: x * x,
    "xy": lambda x, y: x * y,
    "y2": lambda x, y: y * y,
}


def field_basis_names(basis: str) -> list[str]:
    """Names of the basis fields, e.g. ``["∂x", "x∂x", …]`` (6 for ``affine``, 12 for ``quadratic``)."""
    if basis not in _MONOMIALS:
        raise ValueError(f"basis must be one of {sorted(_MONOMIALS)}, got {basis!r}")
    pretty = {"1": "", "x2": "x²", "y2": "y²"}
    return [f"{pretty.get(m, m)}∂{axis}" for axis in ("x", "y") for m in _MONOMIALS[basis]]


def field_basis_2d(n: int, basis: str, normalised: bool = False) -> torch.Tensor:
    """(k, n², n²) float64 operators of the ``affine`` (k = 6) or ``quadratic`` (k = 12) field basis.

    ``normalised``: coordinates in half-widths (see :func:`vector_field_operator`).
    """
    field_basis_names(basis)  # validates the name
    zero = _MONOMIAL_FN["0"]
    along_x = [vector_field_operator(n, _MONOMIAL_FN[m], zero, normalised) for m in _MONOMIALS[basis]]
    along_y = [vector_field_operator(n, zero, _MONOMIAL_FN[m], normalised) for m in _MONOMIALS[basis]]
    return torch.stack(along_x + along_y)


def basis_size(basis: str) -> int:
    """Number of fields in the ``affine`` (6) or ``quadratic`` (12) basis."""
    return len(field_basis_names(basis))


def basis_monomials(basis: str) -> tuple[str, ...]:
    """The monomials of a basis, e.g. ("1", "x", "y") for ``affine``; the basis is each times ∂x, then each times ∂y."""
    field_basis_names(basis)
    return _MONOMIALS[basis]


def ascii_field_names(basis: str) -> list[str]:
    """Plain names of the basis fields for files and metric keys, e.g. ``["dx", "x_dx", …, "y2_dy"]``."""
    return [f"{m}_d{axis}" if m != "1" else f"d{axis}" for axis in ("x", "y") for m in basis_monomials(basis)]


# Named transformations as (coefficient of each monomial along ∂x, along ∂y), monomials as above.
_FIELDS = {
    "translation_x": ({"1": 1.0}, {}),
    "translation_y": ({}, {"1": 1.0}),
    "rotation": ({"y": -1.0}, {"x": 1.0}),  # x∂y − y∂x
    "scaling": ({"x": 1.0}, {"y": 1.0}),  # x∂x + y∂y
    "shear": ({"y": 1.0}, {}),  # y∂x
    "sct_x": ({"x2": 1.0, "y2": -1.0}, {"xy": 2.0}),  # (x² − y²)∂x + 2xy∂y
    "sct_y": ({"xy": 2.0}, {"y2": 1.0, "x2": -1.0}),  # 2xy∂x + (y² − x²)∂y
}


def field_names() -> list[str]:
    return sorted(_FIELDS)


def field_vector(weights: dict[str, float], basis: str = "quadratic") -> torch.Tensor:
    """(k,) float64 coefficients, not normalised, of Σ weight · field over named fields, e.g.
    ``{"rotation": 1, "scaling": 1}`` (a spiral). Raises ValueError for an unknown field or one
    outside the basis."""
    total = torch.zeros(basis_size(basis), dtype=torch.float64)
    for name, weight in weights.items():
        unit = field_coefficients(name, basis)
        total += float(weight) * unit * _raw_norm(name)
    return total


def _raw_norm(name: str) -> float:
    """Norm of a named field's integer coefficients (e.g. √6 for SCT_x), so that sums weight the fields as written."""
    return float(torch.tensor([v for part in _FIELDS[name] for v in part.values()], dtype=torch.float64).norm())


def field_coefficients(name: str, basis: str) -> torch.Tensor:
    """(k,) float64 unit-norm coefficients of a named field in the ``affine``/``quadratic`` basis.

    Derived from the field's polynomial form, e.g. SCT_x = (x² − y²)∂x + 2xy∂y →
    (0,0,0,1,0,−1, 0,0,0,0,2,0)/√6 in the quadratic basis. Raises ValueError if the field
    does not lie in the basis (the SCTs are not affine).
    """
    if name not in _FIELDS:
        raise ValueError(f"unknown field {name!r}; choose one of {field_names()}")
    field_basis_names(basis)
    monomials = _MONOMIALS[basis]
    coeffs = []
    for part in _FIELDS[name]:
        missing = set(part) - set(monomials)
        if missing:
            raise ValueError(f"field {name!r} needs monomials {sorted(missing)}, not in the {basis} basis")
        coeffs += [part.get(m, 0.0) for m in monomials]
    vec = torch.tensor(coeffs, dtype=torch.float64)
    return vec / vec.norm()
