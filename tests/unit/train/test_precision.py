"""trainer.precision: names, the autocast contexts, and the Trainer running its forwards under them."""

from __future__ import annotations

import pytest
import torch

from lconv_cli.errors import UserError
from lconv_cli.train.precision import full_precision, mixed_precision, precision_name
from lconv_cli.train.trainer import Trainer


@pytest.mark.parametrize(("value", "name"), [("32", "32"), (32, "32"), ("bf16-mixed", "bf16-mixed")])
def test_precision_names(value, name):
    assert precision_name(value) == name


@pytest.mark.parametrize("value", ["16-mixed", "fp16", 16, "bf16"])
def test_an_unknown_precision_is_a_one_line_error(value):
    with pytest.raises(UserError, match=r"trainer.precision must be one of 32, bf16-mixed"):
        precision_name(value)


def test_bf16_mixed_autocasts_linear_layers_and_full_precision_opts_out():
    linear, x = torch.nn.Linear(4, 3), torch.randn(5, 4)
    with mixed_precision("32", "cpu"):
        assert linear(x).dtype == torch.float32
    with mixed_precision("bf16-mixed", "cpu"):
        assert linear(x).dtype == torch.bfloat16
        with full_precision("cpu"):
            assert linear(x).dtype == torch.float32
        assert linear(x).dtype == torch.bfloat16


@pytest.mark.parametrize(("precision", "dtype"), [("32", torch.float32), ("bf16-mixed", torch.bfloat16)])
def test_trainer_runs_forward_and_monitor_under_its_precision(tmp_path, precision, dtype):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    seen = {}

    def step_loss(rng):
        out = model(torch.randn(8, 4, generator=rng))
        seen["step"] = out.dtype
        return out.float().square().mean()

    def monitor():
        seen["monitor"] = model(torch.randn(2, 4)).dtype
        return {}

    trainer = Trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        max_steps=3,
        out_dir=tmp_path,
        batch_rng=torch.Generator().manual_seed(0),
        log_every=1,
        progress=False,
        monitor=monitor,
        precision=precision,
    )
    result = trainer.fit(step_loss)
    assert seen == {"step": dtype, "monitor": dtype}
    assert result.steps == 3 and all(
        p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in model.parameters()
    )
    assert not torch.is_autocast_enabled("cpu")  # nothing leaks out of the steps
