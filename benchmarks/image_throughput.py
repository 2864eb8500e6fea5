"""Training-step throughput of the image classifiers: samples/s of forward + backward + Adam step.

    python benchmarks/image_throughput.py [--dataset mnist] [--batch-size 128] [--models lconv,cnn,fc]

Random inputs of the dataset's shape (no data needed); each model is built from its preset in
``conf/model/``. Reports the median over timed repeats after warm-up steps. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module
from rich.console import Console
from rich.table import Table

from lconv_cli.experiments.image_classification import build_classifier
from lconv_cli.models import num_params
from lconv_cli.runner.device import resolve_device

SHAPES = {
    "mnist": ((1, 28, 28), 10),
    "fashion_mnist": ((1, 28, 28), 10),
    "cifar10": ((3, 32, 32), 10),
    "cifar100": ((3, 32, 32), 100),
}


def time_steps(model: torch.nn.Module, shape, classes: int, batch_size: int, steps: int, device: torch.device) -> float:
    """Seconds per training step (forward, cross-entropy, backward, Adam)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch_size, *shape, device=device)
    y = torch.randint(0, classes, (batch_size,), device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    sync()
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist", choices=sorted(SHAPES))
    parser.add_argument("--models", default="lconv,cnn,fc,gcn,lconv_official,cnn_official,fc_official")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    device = resolve_device(args.device)
    shape, classes = SHAPES[args.dataset]
    torch.manual_seed(0)
    table = Table(title=f"{args.dataset}, batch {args.batch_size}, {device}, {torch.get_num_threads()} threads")
    for column in ("model", "parameters", "ms / step", "samples / s"):
        table.add_column(column, justify="right")
    results = {}
    with initialize_config_module("lconv_cli.conf", version_base="1.3"):
        for name in args.models.split(","):
            cfg = compose(
                "config", overrides=["experiment=image_classification", f"model={name}", f"dataset={args.dataset}"]
            )
            model = build_classifier(cfg.model, shape, classes, None).to(device)
            time_steps(model, shape, classes, args.batch_size, 3, device)  # warm-up
            seconds = statistics.median(
                time_steps(model, shape, classes, args.batch_size, args.steps, device) for _ in range(args.repeats)
            )
            results[name] = {
                "num_params": num_params(model),
                "ms_per_step": 1e3 * seconds,
                "samples_per_second": args.batch_size / seconds,
            }
            table.add_row(name, f"{num_params(model):,}", f"{1e3 * seconds:.2f}", f"{args.batch_size / seconds:,.0f}")
    Console().print(table)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {"dataset": args.dataset, "batch_size": args.batch_size, "device": str(device), "models": results},
                handle,
                indent=2,
            )


if __name__ == "__main__":
    main()
