"""Lie-algebra math as pure functions: Shannon–Whittaker operators, generators on grids, exp maps, metrics.

Everything here is deterministic, has no state, and is tested in float64 against closed forms.
"""

from lconv_cli.lie.expm import antisymmetric_expm_action, expm_action
from lconv_cli.lie.generators import centered_coords, derivative_operators_2d, rotation_generator_2d
from lconv_cli.lie.metrics import generator_cos
from lconv_cli.lie.shannon_whittaker import (
    sw_derivative_matrix,
    sw_kernel,
    sw_kernel_derivative,
    sw_shift_matrix,
)

__all__ = [
    "antisymmetric_expm_action",
    "centered_coords",
    "derivative_operators_2d",
    "expm_action",
    "generator_cos",
    "rotation_generator_2d",
    "sw_derivative_matrix",
    "sw_kernel",
    "sw_kernel_derivative",
    "sw_shift_matrix",
]
