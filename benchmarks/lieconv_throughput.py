"""Train-step throughput and peak memory of the LieConv models at the official configs and batch sizes.

    python benchmarks/lieconv_throughput.py [--threads 2] [--steps 5] [--cases qm9-T3,qm9-SE3,img-T2,img-SE2]
    python benchmarks/lieconv_throughput.py --scaling          # memory against the number of points

Each case runs in its own process (so its peak RSS is its own): build the model, run warm-up
steps, then time forward + backward + Adam steps and report the median samples/s and the
process's peak resident memory. QM9 batches are real training molecules when ``$LCONV_DATA``
holds (or can hold) the QM9 cache, else random molecules with QM9's atom-count range; the parent
process draws them and hands the worker only those batches, so the figure is the model's train
step (a training run also holds the dataset: ~90 MB). RotMNIST batches are
random 28×28 images (the cost does not depend on the pixel values). A benchmark, not a test.

The official implementation, measured on the same 2-core CPU (torch CPU, 2 threads, median of
repeated runs), reached: MolecLieResNet T(3) batch 75: 22.0 molecules/s, 3.0 GB; SE(3) batch 75:
4.4 molecules/s, 8.7 GB; ImgLieResnet T(2) batch 25: 12.5 images/s, 2.4 GB; SE(2) batch 25:
3.2 images/s, 5.1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

OFFICIAL = {"qm9-T3": (22.0, 3.0), "qm9-SE3": (4.4, 8.7), "img-T2": (12.5, 2.4), "img-SE2": (3.2, 5.1)}


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # Linux reports KiB


def molecule_batches(batch_size: int, count: int, seed: int = 0):
    """``count`` QM9 training batches (real molecules if the data is available)."""
    import torch

    from lconv_cli.data.qm9 import QM9Molecules, atom_features, collate_molecules, load_qm9, qm9_split

    rng = torch.Generator().manual_seed(seed)
    try:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        data = load_qm9(os.path.join(cache, "lconv"))  # the runner's default paths.cache_dir
        dataset = QM9Molecules(data, qm9_split(len(data["charges"]))["train"], "homo")
        source = "QM9 train molecules"
    except Exception:  # no qm9pack here: random molecules of QM9's sizes
        dataset, source = None, "random molecules (QM9 unavailable)"
    batches = []
    for _ in range(count):
        if dataset is not None:
            items = [dataset[int(i)] for i in torch.randint(len(dataset), (batch_size,), generator=rng)]
        else:
            sizes = torch.randint(3, 30, (batch_size,), generator=rng)
            items = [
                (torch.randn(n, 3, generator=rng) * 1.5, torch.tensor([6] + [1] * (int(n) - 1)), torch.tensor(0.0))
                for n in sizes
            ]
        batch = collate_molecules(items)
        batches.append((batch["positions"], atom_features(batch["charges"]), batch["mask"]))
    return batches, source  # the dataset itself is released: the figure is the model's train step


def build(case: str):
    from lconv_cli.groups.point_groups import make_group
    from lconv_cli.models.lieconv import ImageLieResNet, MoleculeLieResNet

    domain, group = case.split("-")
    if domain == "qm9":
        settings = {"T3": dict(nbhd=100, fill=1.0, liftsamples=1), "SE3": dict(nbhd=25, fill=0.5, liftsamples=4)}[group]
        return MoleculeLieResNet(make_group(group, 3), **settings)
    if domain == "img":
        settings = {"T2": dict(liftsamples=1), "SE2": dict(liftsamples=2)}[group]
        alpha = {"T2": None, "SE2": 0.05}[group]
        return ImageLieResNet(make_group(group, 2, alpha), **settings)
    raise ValueError(case)


def worker(
    case: str, steps: int, warmup: int, batch_size: int | None, points: int | None, batches_file: str | None
) -> dict:
    import torch

    from lconv_cli.models import num_params

    torch.manual_seed(0)
    if points is not None:  # memory scaling: a T(2) LieResNet on `points` random points, nbhd 25
        from lconv_cli.groups.point_groups import make_group
        from lconv_cli.models.lieconv import LieResNet

        model = LieResNet(1, 10, make_group("T2", 2), [128] * 4, fills=[0.1] * 3, nbhd=25)
        bs = batch_size or 25
        batches = [
            (torch.randn(bs, points, 2) * 10, torch.randn(bs, points, 1), torch.ones(bs, points, dtype=torch.bool))
        ]
        source = f"{points} random points"
        step_input = lambda b: model(*b)  # noqa: E731
    elif case.startswith("qm9"):
        model = build(case)
        bs = batch_size or 75
        batches, source = torch.load(batches_file) if batches_file else molecule_batches(bs, 4)
        step_input = lambda b: model(*b)  # noqa: E731
    else:
        model = build(case)
        bs = batch_size or 25
        batches = [torch.randn(bs, 1, 28, 28) for _ in range(2)]
        source = "random 28×28 images"
        step_input = model
    base_rss = peak_rss_gb()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for step in range(warmup + steps):
        batch = batches[step % len(batches)]
        start = time.perf_counter()
        loss = step_input(batch).float().square().mean()
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {
        "case": case,
        "points": points,
        "batch_size": bs,
        "params": num_params(model),
        "source": source,
        "seconds_per_step": seconds,
        "samples_per_second": bs / seconds,
        "peak_rss_gb": peak_rss_gb(),
        "rss_before_training_gb": base_rss,
    }


def run_case(case: str, args, points: int | None = None) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        case,
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--threads",
        str(args.threads),
    ]
    if case.startswith("qm9"):
        import torch

        with tempfile.NamedTemporaryFile(suffix=".pt", delete=False) as handle:
            torch.save(molecule_batches(args.batch_size or 75, 4), handle.name)
        command += ["--batches-file", handle.name]
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    if points is not None:
        command += ["--points", str(points)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    try:
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    finally:
        if "--batches-file" in command:
            os.unlink(command[command.index("--batches-file") + 1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="qm9-T3,qm9-SE3,img-T2,img-SE2")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--scaling", action="store_true", help="peak memory of a T(2) LieResNet at N = 50, 100, 200, 400 points"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--points", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batches-file", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(worker(args.worker, args.steps, args.warmup, args.batch_size, args.points, args.batches_file)))
        return

    from rich.console import Console
    from rich.table import Table

    if args.scaling:
        table = Table(
            title=f"LieResNet T(2), 3 blocks of 128 channels, nbhd 25, batch {args.batch_size or 25}: memory against N"
        )
        for column in ("points", "s/step", "peak RSS (GB)", "RSS before training (GB)", "training increment (GB)"):
            table.add_column(column, justify="right")
        for n in (50, 100, 200, 400):
            r = run_case("scaling", args, points=n)
            table.add_row(
                str(n),
                f"{r['seconds_per_step']:.3f}",
                f"{r['peak_rss_gb']:.3f}",
                f"{r['rss_before_training_gb']:.3f}",
                f"{r['peak_rss_gb'] - r['rss_before_training_gb']:.3f}",
            )
            print(json.dumps(r))
        Console().print(table)
        return
    table = Table(
        title=f"LieConv train step (forward + backward + Adam), {args.threads} threads, median of {args.steps}"
    )
    for column in (
        "case",
        "params",
        "batch",
        "samples/s",
        "official",
        "speed-up",
        "peak RSS (GB)",
        "official (GB)",
        "memory ratio",
        "data",
    ):
        table.add_column(column)
    for case in args.cases.split(","):
        r = run_case(case, args)
        speed, memory = OFFICIAL.get(case, (float("nan"), float("nan")))
        table.add_row(
            case,
            f"{r['params']:,}",
            str(r["batch_size"]),
            f"{r['samples_per_second']:.1f}",
            f"{speed:g}",
            f"{r['samples_per_second'] / speed:.2f}×",
            f"{r['peak_rss_gb']:.2f}",
            f"{memory:g}",
            f"{r['peak_rss_gb'] / memory:.2f}",
            r["source"],
        )
        print(json.dumps(r))
    Console().print(table)


if __name__ == "__main__":
    main()
