"""Numerical precision of training and evaluation: ``trainer.precision`` = 32 | bf16-mixed.

``32``: everything in float32 (or the dtype the experiment chooses). ``bf16-mixed``: the forward
passes run under ``torch.autocast`` with bfloat16, as Lightning's precision plugin of that name:
matrix products and linear layers compute in bfloat16, reductions, losses and the weights stay
float32, and no loss scaling is needed (bfloat16 has float32's exponent range). It pays on GPUs and
on CPUs with bfloat16 matrix units (AMX); elsewhere it is slower than float32. Geometry that must
stay exact opts out inside the model (LieConv's lift, group distances and pair coordinates: autocast
is switched off there).
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from lconv_cli.errors import UserError

PRECISIONS = ("32", "bf16-mixed")


def precision_name(value: object) -> str:
    """``trainer.precision`` as one of ``PRECISIONS`` (the integer 32, as Hydra parses ``=32``, is "32")."""
    name = str(value)
    if name not in PRECISIONS:
        raise UserError(f"trainer.precision must be one of {', '.join(PRECISIONS)}; got {value!r}")
    return name


def mixed_precision(precision: object, device: torch.device | str):
    """A context manager: autocast to bfloat16 on ``device``'s type for ``bf16-mixed``, nothing for ``32``."""
    if precision_name(precision) == "32":
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def full_precision(device: torch.device | str) -> torch.autocast:
    """Autocast off for a block inside a mixed-precision forward (e.g. data augmentation, whose
    rotations must not be rounded to bfloat16)."""
    return torch.autocast(torch.device(device).type, enabled=False)
