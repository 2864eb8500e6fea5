"""Model presets from the configs: the classifiers' official parameter counts, LieConv's per-group settings."""

from __future__ import annotations

import pytest
import torch

from lconv_cli.experiments.image_classification import build_classifier
from lconv_cli.experiments.lieconv_rotmnist import build_image_model
from lconv_cli.lie import grid_adjacency_2d
from lconv_cli.models import num_params

OFFICIAL_COUNTS = {  # lconv_official_code.md, section D
    ("mnist", "lconv_official"): 351_818,
    ("mnist", "cnn_official"): 216_650,
    ("mnist", "fc_official"): 2_138_834,
    ("mnist", "lconv"): 188_362,
    ("mnist", "cnn"): 185_162,
    ("cifar10", "lconv_official"): 459_914,
    ("cifar10", "cnn_official"): 288_906,
    ("cifar10", "fc_official"): 2_941_010,
    ("cifar100", "lconv_official"): 3_409_124,
    ("cifar100", "cnn_official"): 2_880_996,
    ("cifar100", "fc_official"): 5_890_220,
}


@pytest.mark.parametrize("dataset, model", sorted(OFFICIAL_COUNTS))
def test_presets_have_the_official_parameter_counts(compose_cfg, dataset, model):
    cfg = compose_cfg(["experiment=image_classification", f"dataset={dataset}", f"model={model}"])
    shape = (1, 28, 28) if dataset == "mnist" else (3, 32, 32)
    net = build_classifier(cfg.model, shape, cfg.dataset.num_classes, None)
    assert num_params(net) == OFFICIAL_COUNTS[(dataset, model)]
    assert net(torch.zeros(2, *shape)).shape == (2, cfg.dataset.num_classes)


def test_fc_at_matched_size_and_gcn(compose_cfg):
    cfg = compose_cfg(["experiment=image_classification", "model=fc"])
    assert abs(num_params(build_classifier(cfg.model, (1, 28, 28), 10, None)) - 188_362) < 1_000
    cfg = compose_cfg(["experiment=image_classification", "model=gcn"])
    gcn = build_classifier(cfg.model, (1, 28, 28), 10, None)
    torch.testing.assert_close(gcn.layers[0].generators[0], grid_adjacency_2d(28).float())
    assert num_params(gcn) == 2 * 16 + 2 * 16 + 28 * 28 * 16 * 10 + 10


def test_a_non_classifier_model_is_refused(compose_cfg):
    from lconv_cli.errors import UserError

    cfg = compose_cfg(["experiment=image_classification", "model=generator"])
    with pytest.raises(UserError, match="not an image classifier"):
        build_classifier(cfg.model, (1, 28, 28), 10, None)


def test_official_per_group_settings(compose_cfg):
    cfg = compose_cfg(["experiment=lieconv_rotmnist", "group=SE2"])
    assert cfg.model.alpha == 0.05 and cfg.model.liftsamples == 2
    assert compose_cfg(["experiment=lieconv_rotmnist", "group=T2"]).model.liftsamples == 1
    model = build_image_model(cfg)  # quick: the official network on 14 × 14 pooled digits
    assert num_params(model) == 588_837 and model.point_counts[:2] == [312, 213] and model.group.alpha == 0.05
    paper = build_image_model(compose_cfg(["experiment=lieconv_rotmnist", "group=SE2", "scale=paper"]))
    assert num_params(paper) == 588_837 and paper.point_counts[:2] == [1296, 883]  # the official 28 × 28 grid
    qm9 = compose_cfg(["experiment=lieconv_qm9", "group=SE3"])
    assert qm9.model.nbhd == 25 and qm9.data.recenter is True
    assert qm9.trainer.batch_size == 75 and qm9.trainer.lr == 0.003
