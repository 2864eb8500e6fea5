"""The shared model zoo: layers and models reused by every experiment."""

from torch import nn

from lconv_cli.models.classifiers import ConvClassifier, LConvClassifier, MLPClassifier
from lconv_cli.models.generator import ExpGenerator, UnknownAngleGenerator
from lconv_cli.models.lconv import FixedAngleStep, LConv, RecursiveAngleNet


def num_params(model: nn.Module) -> int:
    """Trained parameters (fixed generators are buffers and do not count)."""
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "ConvClassifier",
    "ExpGenerator",
    "FixedAngleStep",
    "LConv",
    "LConvClassifier",
    "MLPClassifier",
    "RecursiveAngleNet",
    "UnknownAngleGenerator",
    "num_params",
]
