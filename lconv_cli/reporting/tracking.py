"""Experiment tracking: Weights & Biases or nothing.

The runner opens one tracker per run; training loops and experiments log through
:func:`log` and :func:`log_image` without knowing which tracker is active.
"""

from __future__ import annotations

import logging
import netrc
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

logger = logging.getLogger(__name__)


class Tracker:
    """No-op tracker (``logger=none``)."""

    def log(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        pass

    def log_image(self, name: str, path: Path) -> None:
        pass

    def summary(self, metrics: Mapping[str, Any]) -> None:
        pass

    def finish(self, exit_code: int) -> None:
        pass


class WandbTracker(Tracker):
    def __init__(self, run: Any) -> None:
        self.run = run

    def log(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.run.log(dict(metrics), step=step)

    def log_image(self, name: str, path: Path) -> None:
        import wandb

        self.run.log({f"figures/{name}": wandb.Image(str(path))})

    def summary(self, metrics: Mapping[str, Any]) -> None:
        for key, value in metrics.items():
            self.run.summary[key] = value

    def finish(self, exit_code: int) -> None:
        self.run.finish(exit_code=exit_code)


_active: Tracker = Tracker()


def log(metrics: Mapping[str, float], step: int | None = None) -> None:
    _active.log(metrics, step)


def log_image(name: str, path: Path) -> None:
    _active.log_image(name, path)


def _has_wandb_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def wandb_mode(requested: str) -> str:
    """``auto``: online when an API key is configured, else offline. Other values pass through."""
    if requested == "auto":
        return "online" if _has_wandb_key() else "offline"
    return requested


def _open_wandb(cfg: DictConfig, out_dir: Path, job: Mapping[str, Any]) -> Tracker:
    import wandb

    wcfg = cfg.logger.wandb
    mode = wandb_mode(str(wcfg.mode))
    config = OmegaConf.to_container(cfg, resolve=True)
    config["hydra"] = {"choices": job.get("choices", {}), "overrides": job.get("overrides", [])}
    kwargs = dict(
        project=wcfg.project,
        entity=wcfg.entity,
        group=job.get("wandb_group"),
        name=job.get("name"),
        job_type=wcfg.job_type,
        tags=list(cfg.get("tags") or []),
        dir=str(out_dir),
        config=config,
        reinit="finish_previous",
        settings=wandb.Settings(init_timeout=float(wcfg.init_timeout)),
    )
    try:
        run = wandb.init(mode=mode, **kwargs)
    except Exception as exc:  # no network, bad key, server down: keep the run, log offline
        if mode != "online":
            raise
        logger.warning("W&B online init failed (%s); logging offline instead (sync later with `wandb sync`)", exc)
        mode = "offline"
        run = wandb.init(mode=mode, **kwargs)
    logger.info("W&B run %s (%s), files in %s", run.name, mode, out_dir / "wandb")
    return WandbTracker(run)


@contextmanager
def open_tracker(cfg: DictConfig, out_dir: Path, job: Mapping[str, Any]) -> Iterator[Tracker]:
    """Make the tracker chosen by ``cfg.logger.name`` active for the duration of a run.

    ``job`` carries Hydra facts: name, wandb_group, choices, overrides. The tracker is finished with
    exit code 0, or 1 if the block raises.
    """
    global _active
    name = cfg.logger.name
    tracker = _open_wandb(cfg, out_dir, job) if name == "wandb" else Tracker()
    _active = tracker
    try:
        yield tracker
    except BaseException:
        tracker.finish(exit_code=1)
        raise
    else:
        tracker.finish(exit_code=0)
    finally:
        _active = Tracker()
