"""Scoring a trained model: eval mode for the length of a computation, and finishing on the weights
with the best validation score."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch

from lconv_cli.train.trainer import BestModel, TrainResult

Score = TypeVar("Score")
ModelT = TypeVar("ModelT", bound=torch.nn.Module)


@contextmanager
def evaluating(model: ModelT) -> Iterator[ModelT]:
    """``model`` in eval mode inside the block; its previous train/eval mode is restored on leaving,
    also when the block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@dataclass
class Finished(Generic[Score]):
    """Where a run ended up after :func:`finish_on_best`.

    kept_step: the step whose weights the model now holds (the last step when nothing was kept).
    best_score: ``BestModel.score`` of those weights (higher is better, as passed to ``update``);
        NaN when no validation score was ever recorded.
    score: ``score()`` of the kept weights; final_score: ``score()`` of the last weights.
    """

    kept_step: int
    best_score: float
    score: Score
    final_score: Score


def finish_on_best(best: BestModel, result: TrainResult, score: Callable[[], Score]) -> Finished[Score]:
    """Score the last weights, then load the best-validation weights (if any were kept) and score those.

    ``score()`` runs once on the last weights and, only when the kept weights are from an earlier
    step than the last, once more after ``best.restore()``; otherwise the last weights are the kept
    ones and their score is reused.
    """
    final_score = score()
    if best.weights is None:  # no validation split: the last weights are kept
        return Finished(result.steps, math.nan, final_score, final_score)
    kept_score = final_score
    if best.step != result.steps:
        best.restore()
        kept_score = score()
    return Finished(best.step, best.score, kept_score, final_score)
