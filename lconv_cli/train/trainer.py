"""A step-based training loop shared by experiments.

It owns what every experiment needs and none should rewrite: progress display, NaN/inf
detection, periodic and on-signal checkpoints, exact resume, and per-step logging.
Checkpoints are written every ``checkpoint_every`` steps and at least every ``checkpoint_seconds``
of wall time, atomically (a flushed temporary file renamed over the previous checkpoint), so a
``kill -9`` or a preemption loses at most that much work.
Resuming restores the model, optimizer, scheduler, the batch RNG and the loss
history, so an interrupted-and-resumed run ends with the same numbers as one that ran
straight through.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from lconv_cli.errors import Diverged, RunInterrupted, UserError
from lconv_cli.reporting import tracking
from lconv_cli.runner.console import console, progress_allowed
from lconv_cli.runner.record import CHECKPOINT_FILE, write_resolved_config
from lconv_cli.train.precision import mixed_precision, precision_name

log = logging.getLogger(__name__)

StepLoss = Callable[[torch.Generator], torch.Tensor]
Monitor = Callable[[], Mapping[str, float]]


@dataclass
class TrainResult:
    """losses[i] is the training loss of step i + 1; train_seconds counts optimisation time only.
    monitored holds (step, train_seconds, {name: value}) at every log point, if a monitor was given."""

    steps: int
    losses: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    monitored: list[tuple[int, float, dict[str, float]]] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        return self.losses[-1] if self.losses else math.nan


class _StopFlag:
    """Turns SIGINT/SIGTERM into a flag checked between steps; a second signal stops at once."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.signal_name is not None:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name


@contextmanager
def _catch_signals() -> Iterator[_StopFlag]:
    flag = _StopFlag()
    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, flag)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Trainer:
    """Runs ``max_steps`` optimisation steps of ``step_loss``.

    Args:
        model: the model to train.
        optimizer: its optimizer.
        scheduler: an optional learning-rate scheduler; it steps once per step.
        max_steps: total number of steps, counting those done before a resume.
        out_dir: the run directory; ``checkpoint.pt`` is written there.
        batch_rng: the torch.Generator ``step_loss`` draws batches from (saved in checkpoints).
        log_every: steps between plain log lines and tracker points.
        checkpoint_every: steps between periodic checkpoints (0: none by step count).
        checkpoint_seconds: wall-clock seconds after which the next step writes a checkpoint
            (0: none by time). Either way one is written at the end and on SIGINT/SIGTERM.
        progress: show a rich progress bar when stderr is a terminal.
        resume_dir: a run directory whose checkpoint to continue from.
        monitor: called at every log point (outside the timed optimisation); its values are
            logged as ``train/<name>`` and kept in ``TrainResult.monitored``.
        extra_state: more objects with ``state_dict()`` / ``load_state_dict()`` to checkpoint and
            restore on resume (e.g. an epoch sampler, the best model so far).
        precision: ``32`` or ``bf16-mixed`` (``lconv_cli.train.precision``): the forward of every step
            and the monitor run under bfloat16 autocast on the model's device; backward and the
            optimizer step are outside it, on float32 weights.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        max_steps: int,
        out_dir: Path,
        batch_rng: torch.Generator,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        log_every: int = 100,
        checkpoint_every: int = 0,
        checkpoint_seconds: float = 0.0,
        progress: bool = True,
        resume_dir: Path | None = None,
        description: str = "train",
        monitor: Monitor | None = None,
        extra_state: Mapping[str, object] | None = None,
        precision: str = "32",
    ) -> None:
        self.model = model
        self.precision = precision_name(precision)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.max_steps = int(max_steps)
        self.out_dir = Path(out_dir)
        self.batch_rng = batch_rng
        self.log_every = max(1, int(log_every))
        self.checkpoint_every = int(checkpoint_every)
        self.checkpoint_seconds = float(checkpoint_seconds)
        self._last_checkpoint = time.monotonic()
        self.show_progress = bool(progress) and console.is_terminal and progress_allowed()
        self.resume_dir = Path(resume_dir) if resume_dir else None
        self.description = description
        self.monitor = monitor
        self.extra_state = dict(extra_state or {})
        self.result = TrainResult(steps=0)

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_FILE

    def state_dict(self, complete: bool) -> dict:
        return {
            "step": self.result.steps,
            "complete": complete,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "batch_rng": self.batch_rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "losses": list(self.result.losses),
            "train_seconds": self.result.train_seconds,
            "monitored": list(self.result.monitored),
            "extra": {name: obj.state_dict() for name, obj in self.extra_state.items()},
        }

    def save_checkpoint(self, complete: bool) -> Path:
        """Write the state to a flushed temporary file, then rename it over ``checkpoint.pt``: a crash
        mid-write leaves the previous checkpoint whole."""
        tmp = self.checkpoint_path.with_name(f".{CHECKPOINT_FILE}.tmp")
        with open(tmp, "wb") as handle:
            torch.save(self.state_dict(complete), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.checkpoint_path)
        self._last_checkpoint = time.monotonic()
        log.debug("checkpoint at step %d: %s", self.result.steps, self.checkpoint_path)
        return self.checkpoint_path

    def _checkpoint_due(self, step: int) -> bool:
        by_steps = self.checkpoint_every > 0 and step % self.checkpoint_every == 0
        by_time = self.checkpoint_seconds > 0 and time.monotonic() - self._last_checkpoint >= self.checkpoint_seconds
        return by_steps or by_time

    def load_checkpoint(self, path: Path) -> None:
        if not path.is_file():
            raise UserError(
                f"resume: no checkpoint at {path}: the run stopped before its first checkpoint "
                f"(trainer.checkpoint_every / trainer.checkpoint_seconds); start it again in a new directory"
            )
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
            if not isinstance(state, dict) or "model" not in state:
                raise ValueError("not an lconv checkpoint")
        except Exception as exc:  # truncated or overwritten: torch raises OSError, RuntimeError, EOFError, ...
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(
                f"resume: the checkpoint {path} is damaged ({reason}); restore it from a backup, "
                f"or start the run again in a new directory"
            ) from None
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler and state["scheduler"]:
            self.scheduler.load_state_dict(state["scheduler"])
        self.batch_rng.set_state(state["batch_rng"])
        for name, obj in self.extra_state.items():
            obj.load_state_dict(state["extra"][name])
        torch.set_rng_state(state["torch_rng"])
        self.result = TrainResult(
            steps=state["step"],
            losses=list(state["losses"]),
            train_seconds=state["train_seconds"],
            monitored=list(state["monitored"]),
        )
        log.info("resumed from %s at step %d/%d", path, self.result.steps, self.max_steps)

    def fit(self, step_loss: StepLoss) -> TrainResult:
        if self.resume_dir is not None:
            self.load_checkpoint(self.resume_dir / CHECKPOINT_FILE)
        self.model.train()
        self._last_checkpoint = time.monotonic()
        with _catch_signals() as stop, self._progress() as advance:
            log.info("training started at step %d of %d", self.result.steps, self.max_steps)
            while self.result.steps < self.max_steps:
                started = time.perf_counter()
                loss = self._step(step_loss)
                self.result.train_seconds += time.perf_counter() - started
                step = self.result.steps
                advance(step, loss)
                if step % self.log_every == 0 or step == self.max_steps:
                    extra = self._monitor(step)
                    tracking.log({"train/loss": loss, **{f"train/{k}": v for k, v in extra.items()}}, step=step)
                    if not self.show_progress:
                        shown = "".join(f"  {k} {v:.4g}" for k, v in extra.items())
                        log.info(
                            "step %d/%d  loss %.4e%s  %.1f s",
                            step,
                            self.max_steps,
                            loss,
                            shown,
                            self.result.train_seconds,
                        )
                if step < self.max_steps and self._checkpoint_due(step):
                    self.save_checkpoint(complete=False)
                if stop.signal_name is not None and step < self.max_steps:
                    path = self.save_checkpoint(complete=False)
                    raise RunInterrupted(f"{stop.signal_name} at step {step}/{self.max_steps}; checkpoint {path}")
        self.save_checkpoint(complete=True)
        self.model.eval()
        return self.result

    def autocast(self):
        """The ``precision`` context for forward passes on the model's device (also for test evaluation)."""
        device = next(self.model.parameters(), torch.empty(0)).device
        return mixed_precision(self.precision, device)

    def _monitor(self, step: int) -> dict[str, float]:
        if self.monitor is None:
            return {}
        with torch.no_grad(), self.autocast():
            values = {k: float(v) for k, v in self.monitor().items()}
        self.result.monitored.append((step, self.result.train_seconds, values))
        return values

    def _step(self, step_loss: StepLoss) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            loss = step_loss(self.batch_rng)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise Diverged(f"loss became {value} at step {self.result.steps + 1}; lower the learning rate (trainer.lr)")
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.result.steps += 1
        self.result.losses.append(value)
        return value

    @contextmanager
    def _progress(self) -> Iterator[Callable[[int, float], None]]:
        if not self.show_progress:
            yield lambda step, loss: None
            return
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(self.description, total=self.max_steps, completed=self.result.steps, loss="-")
            yield lambda step, loss: progress.update(task, completed=step, loss=f"{loss:.3e}")


class EpochSampler:
    """Mini-batches of indices that visit each of ``size`` examples once per epoch, in an order
    drawn from ``rng`` at each epoch's start; resumable (its state is the order and the position)."""

    def __init__(self, size: int, batch_size: int) -> None:
        self.size, self.batch_size = int(size), int(batch_size)
        self.order: torch.Tensor | None = None
        self.position = 0
        self.epochs_started = 0

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.size / self.batch_size)

    def samples_in(self, steps: int) -> int:
        """Examples handed out by the first ``steps`` batches (each epoch's last batch holds the remainder)."""
        full_epochs, rest = divmod(int(steps), self.steps_per_epoch)
        return full_epochs * self.size + min(rest * self.batch_size, self.size)

    def next_batch(self, rng: torch.Generator) -> torch.Tensor:
        """(≤ batch_size,) int64 indices; the last batch of an epoch holds the remainder."""
        if self.order is None or self.position >= self.size:
            self.order = torch.randperm(self.size, generator=rng)
            self.position = 0
            self.epochs_started += 1
        batch = self.order[self.position : self.position + self.batch_size]
        self.position += len(batch)
        return batch

    def state_dict(self) -> dict:
        return {"order": self.order, "position": self.position, "epochs_started": self.epochs_started}

    def load_state_dict(self, state: dict) -> None:
        self.order, self.position, self.epochs_started = state["order"], state["position"], state["epochs_started"]


class BestModel:
    """Keeps a copy of the model's parameters at its best validation score so far (higher is better)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.score = -math.inf
        self.step = 0
        self.weights: dict[str, torch.Tensor] | None = None

    def update(self, score: float, step: int) -> bool:
        """Record ``score`` at ``step``; copy the parameters if it is the best so far. True if it was."""
        if score <= self.score:
            return False
        self.score, self.step = float(score), int(step)
        self.weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        return True

    def restore(self) -> None:
        """Load the best parameters back into the model (no-op before the first update)."""
        if self.weights is not None:
            self.model.load_state_dict(self.weights)

    def state_dict(self) -> dict:
        return {"score": self.score, "step": self.step, "weights": self.weights}

    def load_state_dict(self, state: dict) -> None:
        self.score, self.step, self.weights = state["score"], state["step"], state["weights"]


class RngState:
    """Checkpoints a torch.Generator (e.g. augmentation draws) as trainer ``extra_state``, so a resumed
    run continues its stream. Its checkpoint entry is ``{"state": ByteTensor}``."""

    def __init__(self, rng: torch.Generator) -> None:
        self.rng = rng

    def state_dict(self) -> dict:
        return {"state": self.rng.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.rng.set_state(state["state"])


def epoch_sampler_from_config(cfg, num_examples: int) -> EpochSampler:
    """An EpochSampler over ``num_examples`` at ``trainer.batch_size``; fills in ``trainer.max_steps``
    (``trainer.epochs`` × steps per epoch, raised to whole epochs of at least ``trainer.min_steps``
    steps), ``trainer.log_every`` and ``trainer.checkpoint_every`` (once per epoch) when they are null."""
    from omegaconf import open_dict

    sampler = EpochSampler(num_examples, int(cfg.trainer.batch_size))
    with open_dict(cfg):
        if cfg.trainer.get("max_steps") is None:
            epochs = max(
                int(cfg.trainer.epochs), math.ceil(int(cfg.trainer.get("min_steps") or 0) / sampler.steps_per_epoch)
            )
            cfg.trainer.max_steps = epochs * sampler.steps_per_epoch
        if cfg.trainer.get("log_every") is None:
            cfg.trainer.log_every = sampler.steps_per_epoch
        if cfg.trainer.get("checkpoint_every") is None:
            cfg.trainer.checkpoint_every = sampler.steps_per_epoch
    return sampler


def trainer_from_config(
    model: torch.nn.Module,
    cfg,
    *,
    out_dir: Path,
    batch_rng: torch.Generator,
    description: str,
    monitor: Monitor | None = None,
    extra_state: Mapping[str, object] | None = None,
    param_groups: list[dict] | None = None,
) -> Trainer:
    """A Trainer for ``model`` with the optimizer, schedule, lengths and resume directory of the run config.

    ``param_groups``: torch optimizer parameter groups (e.g. one with its own ``lr``) instead of all
    of ``model.parameters()`` at ``trainer.lr``. The config is final here (the experiment has derived
    ``max_steps``, ``lr``, ...), so it is recorded again in ``config.yaml`` before training starts.
    """
    from lconv_cli.train.optim import make_optimizer, make_schedule

    for key in ("max_steps", "log_every", "checkpoint_every"):
        if cfg.trainer.get(key) is None:
            raise UserError(
                f"trainer.{key} is null; set it (only epoch-based experiments derive it from trainer.epochs)"
            )
    if cfg.get("resume") is None:
        write_resolved_config(cfg, out_dir)

    optimizer = make_optimizer(param_groups or model.parameters(), cfg.trainer)
    return Trainer(
        model,
        optimizer,
        scheduler=make_schedule(optimizer, cfg.trainer),
        max_steps=cfg.trainer.max_steps,
        out_dir=out_dir,
        batch_rng=batch_rng,
        log_every=cfg.trainer.log_every,
        checkpoint_every=cfg.trainer.checkpoint_every,
        checkpoint_seconds=cfg.trainer.checkpoint_seconds,
        progress=cfg.trainer.progress,
        resume_dir=cfg.resume,
        description=description,
        monitor=monitor,
        extra_state=extra_state,
        precision=cfg.trainer.get("precision", "32"),
    )
