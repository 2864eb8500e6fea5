"""The Hydra application: one job = one run of a registered experiment, recorded in its own directory."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from lconv_cli.errors import Diverged, RunInterrupted, UserError
from lconv_cli.reporting import tracking
from lconv_cli.runner.console import allow_progress, metrics_table, stdout_console
from lconv_cli.runner.record import (
    CHECKPOINT_FILE,
    LOG_FILE,
    attempt_dir,
    keeps_record,
    read_status,
    write_metrics,
    write_resolved_config,
)

log = logging.getLogger(__name__)

SEQUENTIAL_LAUNCHERS = ("basic",)


@dataclass
class Outcome:
    """How a job ended: its record's ``status``, and whether a UserError stopped it (exit code 2)."""

    status: str
    user_error: bool


def hydra_app(on_outcome: Callable[[Outcome], None]) -> Callable[[], None]:
    """The Hydra application (``@hydra.main``: reads ``sys.argv``): each job it runs in this process
    passes its Outcome to ``on_outcome``; the CLI collects them to choose its exit code."""

    @hydra.main(version_base="1.3", config_path="pkg://lconv_cli.conf", config_name="config")
    def hydra_entry(cfg: DictConfig) -> None:
        on_outcome(run_job(cfg))

    return hydra_entry


def _job_facts(cfg: DictConfig) -> dict[str, Any]:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    choices = {k: v for k, v in hc.runtime.choices.items() if not k.startswith("hydra/") or k == "hydra/launcher"}
    return {
        "multirun": multirun,
        "parallel": multirun and hc.runtime.choices.get("hydra/launcher") not in SEQUENTIAL_LAUNCHERS,
        "name": f"{cfg.task}-{hc.job.num}" if multirun else str(cfg.task),
        "wandb_group": f"{Path(hc.sweep.dir).name}-{cfg.task}" if multirun else str(cfg.task),
        "choices": choices,
        "overrides": list(hc.overrides.task),
        "out_dir": Path(hc.runtime.output_dir),
    }


def set_threads(cfg: DictConfig, job: dict[str, Any]) -> None:
    """Set torch's CPU thread count from ``num_threads`` (``auto``: the CPUs free at start, or the
    CPUs / n_jobs in parallel local sweeps; see ``lconv_cli.runner.threads``) and record it in ``cfg``."""
    import torch

    from lconv_cli.runner.threads import claim_auto_threads

    setting = threads = cfg.get("num_threads")
    if threads == "auto":
        n_jobs = HydraConfig.get().launcher.get("n_jobs") if job["parallel"] else None
        threads = claim_auto_threads(parallel_jobs=n_jobs)
    if threads is not None:
        torch.set_num_threads(int(threads))
    # Decaying matrix powers (exp of a generator that is still far from converged) reach
    # denormal floats, which run ~50x slower on CPUs; treating them as zero changes no result.
    torch.set_flush_denormal(True)
    with open_dict(cfg):
        cfg.num_threads = torch.get_num_threads()  # the record states what was used
    log.info("CPU threads: %d (num_threads=%s)", cfg.num_threads, setting)


def run_job(cfg: DictConfig) -> Outcome:
    """Run the experiment named by ``cfg.task`` and write its record. Never raises for a failed run
    (so one failing sweep job does not stop the others), except to pass on an interrupt.

    A resumed run's failed attempt does not replace the record it resumes (``record.keeps_record``):
    it is written to ``attempts/<n>-<status>/`` beside it.
    """
    from lconv_cli.runner.device import describe_device, resolve_device
    from lconv_cli.runner.registry import get_experiment
    from lconv_cli.runner.schema import validate_config
    from lconv_cli.runner.threads import release_claim
    from lconv_cli.train.seeding import seed_everything

    started = time.perf_counter()
    job = _job_facts(cfg)
    out_dir: Path = job["out_dir"]
    out_dir.mkdir(parents=True, exist_ok=True)
    resuming = cfg.get("resume") is not None
    previous = read_status(out_dir) if resuming else None
    allow_progress(not job["parallel"])
    status, error, user_error = "failed", None, False
    metrics: dict[str, float] = {}
    device_name = str(cfg.get("device"))
    interrupted = False
    try:
        validate_config(cfg)
        set_threads(cfg, job)
        device = resolve_device(str(cfg.device))
        device_name = describe_device(device)
        with open_dict(cfg):
            cfg.paths.output_dir = str(out_dir)
            cfg.device = str(device)
        seed_everything(int(cfg.seed))
        if not resuming:  # a resumed run keeps its record until it has one to replace it with
            write_resolved_config(cfg, out_dir)
        log.info("%s: seed %s on %s, record in %s", cfg.task, cfg.seed, device_name, out_dir)
        run = get_experiment(str(cfg.task))
        with tracking.open_tracker(cfg, out_dir, job) as tracker:
            metrics = dict(run(cfg))
            tracker.summary(metrics)
        status = "ok"
    except UserError as exc:
        error, user_error = str(exc), True
        log.error("%s", exc)
    except Diverged as exc:
        status, error = "diverged", str(exc)
        log.error("run diverged: %s", exc)
    except (RunInterrupted, KeyboardInterrupt) as exc:
        status, error, interrupted = "interrupted", str(exc) or "KeyboardInterrupt", True
        resumable = (out_dir / CHECKPOINT_FILE).is_file()
        hint = f"; continue with `lconv run resume={out_dir}`" if resumable else " before training began"
        log.warning("run interrupted: %s%s", error, hint)
    except Exception as exc:  # a programming error: traceback goes to run.log
        error = f"{type(exc).__name__}: {exc}"
        log.error("run failed: %s (traceback in %s)", error, out_dir / LOG_FILE)
        log.debug("traceback:\n%s", traceback.format_exc())
    record_dir = out_dir
    if keeps_record(previous, status):
        record_dir = attempt_dir(out_dir, status)
        log.warning("the record in %s (%s) is kept; this attempt's record is in %s", out_dir, previous, record_dir)
    write_resolved_config(cfg, record_dir)  # again: with the values the experiment derived (max_steps, lr, ...)
    write_metrics(
        record_dir,
        experiment=str(cfg.get("task")),
        status=status,
        seed=int(cfg.seed),
        wall_seconds=time.perf_counter() - started,
        metrics=metrics,
        device=device_name,
        overrides=job["overrides"],
        error=error,
    )
    release_claim()
    outcome = Outcome(status, user_error)
    if status == "ok" and not job["multirun"]:
        stdout_console.print(metrics_table(f"{cfg.task}: {status}", metrics))
        stdout_console.print(f"record: {out_dir}", soft_wrap=True)
    if interrupted:
        raise KeyboardInterrupt
    return outcome
