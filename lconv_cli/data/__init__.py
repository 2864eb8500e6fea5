"""Datasets: synthetic pair generators and image datasets."""

from lconv_cli.data.rotation_pairs import PairSet, make_rotation_pairs
from lconv_cli.data.shift_pairs import make_shift_pairs

__all__ = ["PairSet", "make_rotation_pairs", "make_shift_pairs"]
