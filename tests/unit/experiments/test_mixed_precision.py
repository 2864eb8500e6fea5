"""The LieConv paper presets under trainer.precision=bf16-mixed: accepted by the runner, and the paper-size
models give the float32 outputs to bfloat16 tolerance on CPU, with exact geometry and float32 weights."""

from __future__ import annotations

import pytest
import torch

from lconv_cli.errors import UserError
from lconv_cli.runner.schema import validate_config
from lconv_cli.train.precision import mixed_precision

TOLERANCE = 0.03  # relative L2 error of the outputs; measured 0.001–0.005 (bfloat16 keeps 8 significant bits)


def paper_model(compose_cfg, experiment: str, group: str):
    cfg = compose_cfg([f"experiment={experiment}", "scale=paper", f"group={group}", "trainer.precision=bf16-mixed"])
    validate_config(cfg)
    torch.manual_seed(0)
    if experiment == "lieconv_rotmnist":
        from lconv_cli.experiments.lieconv_rotmnist import build_image_model

        model = build_image_model(cfg)
        inputs = (torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(1)),)
    else:
        from lconv_cli.experiments.lieconv_qm9 import build_molecule_model

        model = build_molecule_model(cfg, group)
        g = torch.Generator().manual_seed(1)
        mask = torch.ones(3, 9, dtype=torch.bool)
        mask[1, 6:] = False
        features = torch.zeros(3, 9, 15)
        features[..., 0] = 1.0
        inputs = (torch.randn(3, 9, 3, generator=g) * 1.5, features, mask)
    return cfg, model, inputs


@pytest.mark.parametrize(
    ("experiment", "group", "params"),
    [
        ("lieconv_rotmnist", "SE2", 588_837),
        ("lieconv_rotmnist", "T2", 588_645),
        ("lieconv_qm9", "T3", None),
        ("lieconv_qm9", "SE3", None),
    ],
)
def test_paper_presets_give_float32_outputs_to_tolerance_under_bf16_mixed(compose_cfg, experiment, group, params):
    cfg, model, inputs = paper_model(compose_cfg, experiment, group)
    if params is not None:
        assert sum(p.numel() for p in model.parameters()) == params  # the official size, not a small stand-in
    model.train()
    for _ in range(2):  # move the BN statistics and radii off their initial values, in float32
        model(*inputs)
    model.eval()
    with torch.no_grad():
        reference = model(*inputs)
        with mixed_precision(cfg.trainer.precision, "cpu"):
            mixed = model(*inputs)
            lifted = model.lift(*inputs) if experiment == "lieconv_qm9" else None
    assert mixed.dtype == torch.float32
    error = float((mixed - reference).norm() / reference.norm())
    assert 0 < error < TOLERANCE  # > 0: the products did run in bfloat16
    if lifted is not None:  # the lift (group elements) is exact, not rounded to bfloat16
        exact = model.lift(*inputs)
        assert lifted.elems.dtype == torch.float32 and torch.equal(lifted.elems, exact.elems)


def test_a_bf16_mixed_training_step_keeps_float32_weights_and_finite_gradients(compose_cfg):
    cfg, model, inputs = paper_model(compose_cfg, "lieconv_rotmnist", "SE2")
    with mixed_precision(cfg.trainer.precision, "cpu"):
        loss = torch.nn.functional.cross_entropy(model(*inputs), torch.arange(4))
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)


def test_experiments_without_mixed_precision_refuse_it(compose_cfg):
    cfg = compose_cfg(["experiment=so2_discovery", "trainer.precision=bf16-mixed"])
    with pytest.raises(UserError, match=r"trainer\.precision=bf16-mixed is not supported by so2_discovery"):
        validate_config(cfg)
    validate_config(compose_cfg(["experiment=so2_discovery", "trainer.precision=32"]))
