"""Training throughput, measured one way for every epoch-based experiment."""

from __future__ import annotations

import math

from lconv_cli.train.trainer import EpochSampler, TrainResult


def training_throughput(result: TrainResult, sampler: EpochSampler) -> float:
    """Training examples per second of optimisation time (samples/s).

    Numerator: the examples the sampler handed out in the ``result.steps`` optimisation steps
    (:meth:`EpochSampler.samples_in`: each epoch's last, shorter batch counts its true size).
    Denominator: ``result.train_seconds``, the wall time (``time.perf_counter``) of the steps
    themselves — batch selection, forward, loss, backward and optimizer/scheduler step — without the
    validation monitor and checkpoints, summed over every session of a resumed run. CUDA work is
    not synchronised per step; each step's ``float(loss)`` waits for its forward pass. NaN when no
    optimisation time was measured (no steps).
    """
    if result.train_seconds <= 0:
        return math.nan
    return sampler.samples_in(result.steps) / result.train_seconds
