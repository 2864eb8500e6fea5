"""Datasets: synthetic pair generators and (in later issues) image datasets."""

from lconv_cli.data.rotation_pairs import PairSet, make_rotation_pairs

__all__ = ["PairSet", "make_rotation_pairs"]
