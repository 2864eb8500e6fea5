"""Lie-algebra math as pure functions: Shannon–Whittaker operators, generators on grids, exp maps,
resampling operators, and metrics.

Everything here is deterministic, has no state, and is tested in float64 against closed forms.
"""

from lconv_cli.lie.expm import antisymmetric_expm_action, expm_action, expm_action_squaring, real_logm
from lconv_cli.lie.generators import (
    CONVENTIONS,
    ascii_field_names,
    basis_size,
    centered_coords,
    derivative_operators_2d,
    field_basis_2d,
    field_basis_names,
    field_coefficients,
    field_names,
    field_vector,
    grid_adjacency_2d,
    normalised_coords,
    paper_rotation_generator_2d,
    rotation_generator_2d,
    scaling_generator_2d,
    vector_field_operator,
)
from lconv_cli.lie.metrics import (
    bracket,
    closure_error,
    coefficient_cos,
    generator_cos,
    killing_signature,
    structure_constants,
    subspace_similarity,
)
from lconv_cli.lie.resampling import bilinear_rotation_matrix, central_difference_generator
from lconv_cli.lie.shannon_whittaker import (
    sw_derivative_matrix,
    sw_kernel,
    sw_kernel_derivative,
    sw_shift_matrix,
)

__all__ = [
    "CONVENTIONS",
    "antisymmetric_expm_action",
    "ascii_field_names",
    "basis_size",
    "bilinear_rotation_matrix",
    "bracket",
    "centered_coords",
    "central_difference_generator",
    "closure_error",
    "coefficient_cos",
    "derivative_operators_2d",
    "expm_action",
    "expm_action_squaring",
    "field_basis_2d",
    "field_basis_names",
    "field_coefficients",
    "field_names",
    "field_vector",
    "generator_cos",
    "grid_adjacency_2d",
    "killing_signature",
    "normalised_coords",
    "paper_rotation_generator_2d",
    "real_logm",
    "rotation_generator_2d",
    "scaling_generator_2d",
    "structure_constants",
    "subspace_similarity",
    "sw_derivative_matrix",
    "sw_kernel",
    "sw_kernel_derivative",
    "sw_shift_matrix",
    "vector_field_operator",
]
