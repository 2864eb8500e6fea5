"""Scoring helpers shared by the experiments: eval mode for a block, finishing on the best weights,
and the one definition of training throughput."""

import math

import pytest
import torch

from lconv_cli.train.evaluation import evaluating, finish_on_best
from lconv_cli.train.throughput import training_throughput
from lconv_cli.train.trainer import BestModel, EpochSampler, RngState, TrainResult


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("training", [True, False])
def test_evaluating_switches_to_eval_and_restores_the_mode(training):
    model = _net().train(training)
    with evaluating(model) as inside:
        assert inside is model
        assert not model.training and not any(m.training for m in model.modules())
    assert model.training is training
    assert all(m.training is training for m in model.modules())


def test_evaluating_restores_train_mode_when_the_block_raises():
    model = _net().train()
    with pytest.raises(RuntimeError, match="boom"), evaluating(model):
        raise RuntimeError("boom")
    assert model.training


def test_finish_on_best_restores_the_saved_weights_and_scores_both():
    model = _net()
    best = BestModel(model)
    best.update(0.5, step=4)
    saved = _state(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # the weights move on after the best step
    last = _state(model)
    scored = []

    def score() -> float:
        scored.append(_state(model))
        return float(sum(p.detach().sum() for p in model.parameters()))

    finished = finish_on_best(best, TrainResult(steps=10), score)
    assert len(scored) == 2
    assert all(torch.equal(scored[0][k], last[k]) for k in last)  # the last weights are scored first
    assert all(torch.equal(model.state_dict()[k], saved[k]) for k in saved)  # then the saved ones are loaded
    assert finished.kept_step == 4 and finished.best_score == 0.5
    assert finished.final_score > finished.score  # every parameter was 1 larger
    assert finished.score == pytest.approx(float(sum(saved[name].sum() for name, _ in model.named_parameters())))


def test_finish_on_best_at_the_last_step_scores_once_and_keeps_the_weights():
    model = _net()
    best = BestModel(model)
    best.update(-2.0, step=10)
    calls = []
    finished = finish_on_best(best, TrainResult(steps=10), lambda: calls.append(1) or 7.0)
    assert calls == [1]
    assert (finished.kept_step, finished.best_score, finished.score, finished.final_score) == (10, -2.0, 7.0, 7.0)


def test_finish_on_best_without_validation_keeps_the_last_weights():
    model = _net()
    before = _state(model)
    finished = finish_on_best(BestModel(model), TrainResult(steps=6), lambda: (0.25, 1.5))
    assert finished.kept_step == 6 and math.isnan(finished.best_score)
    assert finished.score == finished.final_score == (0.25, 1.5)
    assert all(torch.equal(model.state_dict()[k], before[k]) for k in before)


@pytest.mark.parametrize("size, batch_size, steps", [(10, 4, 5), (10, 4, 3), (7, 7, 4), (5, 16, 3), (9, 2, 0)])
def test_samples_in_counts_the_examples_the_sampler_hands_out(size, batch_size, steps):
    sampler, rng = EpochSampler(size, batch_size), torch.Generator().manual_seed(0)
    drawn = sum(len(sampler.next_batch(rng)) for _ in range(steps))
    assert EpochSampler(size, batch_size).samples_in(steps) == drawn


def test_training_throughput_is_samples_per_optimisation_second():
    sampler = EpochSampler(10, 4)  # batches of 4, 4, 2 per epoch
    assert training_throughput(TrainResult(steps=5, train_seconds=2.0), sampler) == pytest.approx((10 + 8) / 2.0)
    assert training_throughput(TrainResult(steps=3, train_seconds=0.5), sampler) == pytest.approx(20.0)
    assert math.isnan(training_throughput(TrainResult(steps=0, train_seconds=0.0), sampler))


def test_rng_state_round_trips_the_stream():
    rng = torch.Generator().manual_seed(3)
    saved = RngState(rng).state_dict()
    first = torch.rand(4, generator=rng)
    RngState(rng).load_state_dict(saved)
    assert torch.equal(torch.rand(4, generator=rng), first)
    assert set(saved) == {"state"}  # the checkpoint entry's key, read by older checkpoints too
