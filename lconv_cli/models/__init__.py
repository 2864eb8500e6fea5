"""The shared model zoo: layers and models reused by every experiment."""

from lconv_cli.models.generator import ExpGenerator, UnknownAngleGenerator
from lconv_cli.models.lconv import FixedAngleStep, LConv, RecursiveAngleNet

__all__ = ["ExpGenerator", "FixedAngleStep", "LConv", "RecursiveAngleNet", "UnknownAngleGenerator"]
