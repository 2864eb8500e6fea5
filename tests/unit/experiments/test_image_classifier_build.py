"""The image classifier's builder: an unknown L-conv parametrisation is one line, not a traceback."""

import pytest
from omegaconf import OmegaConf

from lconv_cli.errors import UserError
from lconv_cli.experiments.image_classification import build_classifier
from lconv_cli.models import LConvClassifier


def _cfg(parametrisation: str):
    return OmegaConf.create(
        {
            "arch": "lconv",
            "num_generators": 1,
            "parametrisation": parametrisation,
            "rank": 2,
            "fixed_generators": "rotation",
            "channels": [2],
            "bias": "shared",
            "activation": "relu",
            "head": "flatten",
        }
    )


def test_parametrisations_are_checked_and_fixed_low_rank_builds():
    with pytest.raises(
        UserError, match=r"model\.parametrisation must be one of dense, low_rank, fixed, fixed_low_rank"
    ):
        build_classifier(_cfg("sparse"), (1, 5, 5), 3, None)
    model = build_classifier(_cfg("fixed_low_rank"), (1, 5, 5), 3, None)
    assert isinstance(model, LConvClassifier)
    layer = model.layers[0]
    assert layer.parametrisation == "fixed_low_rank" and layer.left.shape == (1, 25, 2)
