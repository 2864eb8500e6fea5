"""Image classifiers: L-conv networks and the CNN / fully connected baselines (L-conv paper, SI D).

Every classifier maps images (B, C, H, W), float, to logits (B, num_classes). L-conv and FC
networks treat the H·W pixels as an unordered set of sites, so a fixed pixel permutation
(the "scrambled" variant) changes nothing for them but the order their weights are learned in;
a CNN relies on pixel neighbourhoods and loses them.

The presets in ``conf/model/`` reproduce the official Keras models' parameter counts exactly, e.g.
L-conv (k generators of rank r, F filters, one bias per term): k·2dr + (k+1)(C·F + F) + d·F·10 + 10.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from lconv_cli.models.lconv import ACTIVATIONS, LConv

HEADS = ("flatten", "mean")


class LConvClassifier(nn.Module):
    """Stacked L-conv layers on the pixels, then a flatten (or mean-over-pixels) linear head.

    Args:
        image_shape: (C, H, W) of the input images; d = H·W sites with C channels each.
        num_classes: outputs.
        channels: output channels of each L-conv layer, e.g. [16] (one layer) or [16, 16].
        num_generators: k generators per layer (the official ``kernel_size`` is k + 1).
        parametrisation: as in :class:`LConv`, for every layer.
        rank: as in :class:`LConv`, for every layer.
        bias: as in :class:`LConv`, for every layer.
        activation: as in :class:`LConv`, for every layer.
        fixed_generators: (k, d, d) generators shared by every layer (implies ``fixed``).
        head: ``flatten`` (Linear(d·C_last, classes), the official model) or ``mean`` (average
            over pixels, then Linear(C_last, classes): invariant to any pixel permutation that
            the layers commute with).
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        num_classes: int,
        channels: Sequence[int] = (16,),
        num_generators: int = 5,
        parametrisation: str = "low_rank",
        rank: int | None = 8,
        bias: str = "per_term",
        activation: str = "relu",
        fixed_generators: torch.Tensor | None = None,
        head: str = "flatten",
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(HEADS)}; got {head!r}")
        in_channels, height, width = image_shape
        dim = height * width
        widths = [in_channels, *channels]
        self.layers = nn.Sequential(
            *(
                LConv(
                    dim,
                    num_generators,
                    c_in,
                    c_out,
                    parametrisation=parametrisation,
                    rank=rank,
                    fixed_generators=fixed_generators,
                    bias=bias,
                    activation=activation,
                )
                for c_in, c_out in itertools.pairwise(widths)
            )
        )
        self.head_kind = head
        self.head = nn.Linear(widths[-1] * (dim if head == "flatten" else 1), num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) → logits (B, num_classes)."""
        f = self.layers(images.flatten(2).transpose(1, 2))  # (B, d, C)
        pooled = f.flatten(1) if self.head_kind == "flatten" else f.mean(1)
        return self.head(pooled)


class ConvClassifier(nn.Module):
    """Conv2d layers (ReLU, optional 2×2 max-pooling after each), then a flatten linear head.

    Args:
        image_shape: (C, H, W).
        channels: filters per conv layer, e.g. [32].
        kernel_size: an int or (kh, kw), the same for every layer.
        padding: ``valid`` (the official CNN) or ``same``.
        pool: 2×2 max-pooling after each conv layer.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        num_classes: int,
        channels: Sequence[int] = (32,),
        kernel_size: int | Sequence[int] = 3,
        padding: str = "valid",
        pool: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        in_channels = image_shape[0]
        kernel = kernel_size if isinstance(kernel_size, int) else tuple(kernel_size)
        layers: list[nn.Module] = []
        for c_out in channels:
            layers += [nn.Conv2d(in_channels, c_out, kernel, padding=padding), ACTIVATIONS[activation]()]
            if pool:
                layers.append(nn.MaxPool2d(2))
            in_channels = c_out
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.features(torch.zeros(1, *image_shape)).numel()
        self.head = nn.Linear(flat, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) → logits (B, num_classes)."""
        return self.head(self.features(images).flatten(1))


class MLPClassifier(nn.Module):
    """Fully connected: flatten, hidden Linear + activation layers, Linear head."""

    def __init__(
        self, image_shape: Sequence[int], num_classes: int, hidden: Sequence[int] = (237,), activation: str = "relu"
    ) -> None:
        super().__init__()
        width = 1
        for size in image_shape:
            width *= int(size)
        layers: list[nn.Module] = [nn.Flatten()]
        for size in hidden:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) → logits (B, num_classes)."""
        return self.net(images)
