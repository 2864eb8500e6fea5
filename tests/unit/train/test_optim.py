"""Learning-rate schedules by name."""

import pytest
import torch

from lconv_cli.errors import UserError


def test_schedules_by_name():
    from omegaconf import OmegaConf

    from lconv_cli.train.optim import make_optimizer, make_schedule

    cfg = OmegaConf.create({"optimizer": "adam", "lr": 0.1, "lr_schedule": "cosine", "max_steps": 10})
    params = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = make_optimizer(params, cfg)
    schedule = make_schedule(optimizer, cfg)
    for _ in range(10):
        optimizer.step()
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert make_schedule(optimizer, OmegaConf.merge(cfg, {"lr_schedule": "constant"})) is None
    with pytest.raises(UserError, match=r"trainer.lr_schedule must be one of constant, cosine"):
        make_schedule(optimizer, OmegaConf.merge(cfg, {"lr_schedule": "cyclic"}))
