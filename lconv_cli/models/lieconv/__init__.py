"""LieConv (Finzi et al., ICML 2020): the convolution layer, bottleneck blocks and LieResNet.

A lifted point set travels between layers as ``LiftedPoints``: group elements, orbit ids and a
mask (the *structure*, batch B or 1 when a whole batch shares it, as for an image grid) and
feature ``values`` packed as (P, C), one row per valid point of the B sets, so the wide pointwise
layers never compute on padding. A LieConv layer

1. optionally subsamples its queries by farthest-point sampling on the group distance,
2. picks up to ``nbhd`` neighbours per query inside a ball whose radius adapts in training so
   that a ``fill`` fraction of the points falls inside (or the k nearest, ``knn=True``),
3. evaluates a kernel MLP (Linear → masked BN → Swish, three times) on the pair coordinates
   [log(v⁻¹u), q_u, q_v], and
4. applies the PointConv trick: Linear(Σ_v values_v ⊗ h(u, v)) / #neighbours.

Randomness (neighbour draws, the start of farthest-point sampling, lifting) comes from torch's
global RNG in training, which the runner seeds. In eval mode it is a fixed hash of the
point indices (``uniform_noise``), so evaluation is deterministic and does not depend on the batch
size or on padding.
"""

from lconv_cli.models.lieconv.batchnorm import MaskBatchNorm
from lconv_cli.models.lieconv.conv import LieConv
from lconv_cli.models.lieconv.image import ImageLieResNet, image_grid
from lconv_cli.models.lieconv.kernel import KernelMLP
from lconv_cli.models.lieconv.molecule import MoleculeLieResNet
from lconv_cli.models.lieconv.points import LiftedPoints, PairTable, exact_geometry
from lconv_cli.models.lieconv.resnet import BottleBlock, LieResNet

__all__ = [
    "BottleBlock",
    "ImageLieResNet",
    "KernelMLP",
    "LieConv",
    "LieResNet",
    "LiftedPoints",
    "MaskBatchNorm",
    "MoleculeLieResNet",
    "PairTable",
    "exact_geometry",
    "image_grid",
]
