"""Train-step throughput and peak memory of the LieConv models at the official configs and batch sizes.

    python benchmarks/lieconv_throughput.py [--threads 2] [--steps 5] [--cases qm9-T3,qm9-SE3,img-T2,img-SE2]
    python benchmarks/lieconv_throughput.py --official-src LIECONV_DIR --oil-src OIL_DIR [--repeats 3]
    python benchmarks/lieconv_throughput.py --per-image-neighbourhoods [--precision bf16-mixed]
    python benchmarks/lieconv_throughput.py --scaling          # memory against the number of points

Each case runs in its own process (so its peak RSS is its own): build the model, run warm-up
steps, then time forward + backward + Adam steps and report the median samples/s and the
process's peak resident memory. QM9 batches are real training molecules when ``$LCONV_DATA``
holds (or can hold) the QM9 cache, else random molecules with QM9's atom-count range; the parent
process draws them and hands the worker only those batches, so the figure is the model's train
step (a training run also holds the dataset: ~90 MB). RotMNIST batches are
random 28×28 images (the cost does not depend on the pixel values). A benchmark, not a test.

The official implementation is measured, not quoted: given unmodified checkouts of mfinzi/LieConv
(``--official-src``) and mfinzi/olive-oil-ml (``--oil-src``, which the official molecule model
imports), each case runs its processes interleaved (lconv, official, lconv, official, ...;
``--repeats`` of each) on the same batches, and the table reports the median over processes and
their ratio. The official code is imported from those paths at run time with runtime shims only
(``official_shims.py``); none of it is copied here. Both models are timed without data augmentation
(the official molecule model's in-forward rotation is off, ``aug=False``; its image augmentation is
a separate layer), so the figure is the network's train step. Without ``--official-src`` the
official columns say "not measured".
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


def build_official(case: str, official_src: str, oil_src: str | None):
    """The official model of ``case`` at the official README configuration (the network only)."""
    from official_shims import import_official

    lie_conv = import_official(official_src, oil_src)
    groups = lie_conv.lieGroups
    domain, group = case.split("-")
    if domain == "qm9":
        settings = {
            "T3": dict(group=groups.T(3), fill=1.0, nbhd=100),
            "SE3": dict(group=groups.SE3(0.2), fill=0.5, liftsamples=4, nbhd=25),
        }[group]
        # train_molec.py's net_config: k 1536, swish, bn, mean, 6 layers; 5 species, charge scale 9
        model = lie_conv.moleculeTrainer.MolecLieResNet(
            5, 9, k=1536, act="swish", bn=True, aug=False, mean=True, num_layers=6, **settings
        )
        return model, lambda b: lie_conv.lieConv.LieResNet.forward(model, b).squeeze(-1)
    if domain == "img":
        settings = {"T2": dict(group=groups.T(2)), "SE2": dict(group=groups.SE2(0.05), liftsamples=2)}[group]
        model = lie_conv.lieConv.ImgLieResnet(num_targets=10, k=128, total_ds=0.1, fill=0.1, nbhd=25, **settings)
        return model, model
    raise ValueError(case)


def build(case: str, per_image_neighbourhoods: bool = False):
    from lconv_cli.groups.point_groups import make_group
    from lconv_cli.models.lieconv import ImageLieResNet, MoleculeLieResNet

    domain, group = case.split("-")
    if domain == "qm9":
        settings = {"T3": dict(nbhd=100, fill=1.0, liftsamples=1), "SE3": dict(nbhd=25, fill=0.5, liftsamples=4)}[group]
        return MoleculeLieResNet(make_group(group, 3), **settings)
    if domain == "img":
        settings = {"T2": dict(liftsamples=1), "SE2": dict(liftsamples=2)}[group]
        alpha = {"T2": None, "SE2": 0.05}[group]
        return ImageLieResNet(
            make_group(group, 2, alpha), shared_neighbourhoods=not per_image_neighbourhoods, **settings
        )
    raise ValueError(case)


def worker(
    case: str,
    steps: int,
    warmup: int,
    batch_size: int | None,
    points: int | None,
    batches_file: str | None,
    official: tuple[str, str | None] | None = None,
    per_image_neighbourhoods: bool = False,
    precision: str = "32",
) -> dict:
    """One process's measurement; ``official`` = (LieConv dir, olive-oil-ml dir) times the official model."""
    import torch

    from lconv_cli.train.precision import mixed_precision

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
        if official:
            model, step_input = build_official(case, *official)
        else:
            model = build(case)
            step_input = lambda b: model(*b)  # noqa: E731
        bs = batch_size or 75
        batches, source = torch.load(batches_file) if batches_file else molecule_batches(bs, 4)
    else:
        if official:
            model, step_input = build_official(case, *official)
        else:
            model, step_input = build(case, per_image_neighbourhoods), None
        step_input = step_input or model
        bs = batch_size or 25
        images = torch.Generator().manual_seed(1)
        batches = [torch.randn(bs, 1, 28, 28, generator=images) for _ in range(2)]
        source = "random 28×28 images"
    base_rss = peak_rss_gb()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for step in range(warmup + steps):
        batch = batches[step % len(batches)]
        start = time.perf_counter()
        with mixed_precision(precision if not official else "32", "cpu"):
            loss = step_input(batch).float().square().mean()
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {
        "case": case,
        "implementation": "official" if official else "lconv",
        "precision": "32" if official else precision,
        "points": points,
        "batch_size": bs,
        "params": sum(p.numel() for p in model.parameters()),
        "source": source,
        "seconds_per_step": seconds,
        "samples_per_second": bs / seconds,
        "peak_rss_gb": peak_rss_gb(),
        "rss_before_training_gb": base_rss,
    }


def run_case(
    case: str, args, points: int | None = None, batches_file: str | None = None, official: bool = False
) -> dict:
    """One worker process: ``case`` on ``batches_file`` (QM9), the official model when ``official``."""
    command = [sys.executable, __file__, "--worker", case, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    command += ["--threads", str(args.threads)]
    if batches_file:
        command += ["--batches-file", batches_file]
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    if points is not None:
        command += ["--points", str(points)]
    if args.per_image_neighbourhoods:
        command += ["--per-image-neighbourhoods"]
    command += ["--precision", args.precision]
    if official:
        command += ["--official-src", args.official_src] + (["--oil-src", args.oil_src] if args.oil_src else [])
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{'official' if official else 'lconv'} {case} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare_case(case: str, args) -> tuple[list[dict], list[dict]]:
    """``args.repeats`` lconv and (with ``--official-src``) official processes, interleaved, on the same batches."""
    batches_file = None
    if case.startswith("qm9"):
        import torch

        with tempfile.NamedTemporaryFile(suffix=".pt", delete=False) as handle:
            torch.save(molecule_batches(args.batch_size or 75, 4), handle.name)
        batches_file = handle.name
    ours, theirs = [], []
    try:
        for _ in range(args.repeats):
            ours.append(run_case(case, args, batches_file=batches_file))
            print(json.dumps(ours[-1]), flush=True)
            if args.official_src:
                theirs.append(run_case(case, args, batches_file=batches_file, official=True))
                print(json.dumps(theirs[-1]), flush=True)
    finally:
        if batches_file:
            os.unlink(batches_file)
    return ours, theirs


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
    parser.add_argument("--official-src", default=None, help="an unmodified checkout of mfinzi/LieConv")
    parser.add_argument("--oil-src", default=None, help="an unmodified checkout of mfinzi/olive-oil-ml (QM9 cases)")
    parser.add_argument(
        "--per-image-neighbourhoods",
        action="store_true",
        help="lconv's image model draws one neighbourhood sample per image, as the official code does "
        "(model.shared_neighbourhoods=false); default: one per batch, lconv's default",
    )
    parser.add_argument(
        "--precision",
        choices=("32", "bf16-mixed"),
        default="32",
        help="lconv's forward precision (trainer.precision); the official code always runs in float32",
    )
    parser.add_argument("--repeats", type=int, default=1, help="processes per implementation and case, interleaved")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--points", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batches-file", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        official = (args.official_src, args.oil_src) if args.official_src else None
        result = worker(
            args.worker,
            args.steps,
            args.warmup,
            args.batch_size,
            args.points,
            args.batches_file,
            official,
            args.per_image_neighbourhoods,
            args.precision,
        )
        print(json.dumps(result))
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
    title = f"LieConv train step (forward + backward + Adam), {args.threads} threads, median of {args.steps} steps"
    sampling = "per-image" if args.per_image_neighbourhoods else "per-batch (lconv default)"
    table = Table(
        title=f"{title}, median of {args.repeats} processes per implementation; lconv image neighbourhoods: "
        f"{sampling}; lconv precision {args.precision} (official: 32)"
    )
    columns = ["case", "params", "official params", "batch", "samples/s", "official", "speed-up"]
    for column in [*columns, "peak RSS (GB)", "official (GB)", "memory ratio", "data"]:
        table.add_column(column)
    for case in args.cases.split(","):
        ours, theirs = compare_case(case, args)
        speed = statistics.median(r["samples_per_second"] for r in ours)
        memory = statistics.median(r["peak_rss_gb"] for r in ours)
        row = [case, f"{ours[0]['params']:,}"]
        if theirs:
            official_speed = statistics.median(r["samples_per_second"] for r in theirs)
            official_memory = statistics.median(r["peak_rss_gb"] for r in theirs)
            row += [f"{theirs[0]['params']:,}", str(ours[0]["batch_size"]), f"{speed:.2f}", f"{official_speed:.2f}"]
            row += [f"{speed / official_speed:.2f}×", f"{memory:.2f}", f"{official_memory:.2f}"]
            row += [f"{memory / official_memory:.2f}"]
        else:
            row += ["not measured", str(ours[0]["batch_size"]), f"{speed:.2f}", "not measured", "—", f"{memory:.2f}"]
            row += ["not measured", "—"]
        table.add_row(*row, ours[0]["source"])
    Console(width=220).print(table)
    if not args.official_src:
        print("official columns: not measured (pass --official-src LIECONV_DIR --oil-src OIL_DIR to measure them)")


if __name__ == "__main__":
    main()
