"""Parity at equal budget: the official LieConv code and lconv's, trained side by side on the same data.

    python benchmarks/lieconv_parity.py --official-src LIECONV_DIR [--oil-src OIL_DIR] \\
        --case rotmnist-T2 --seeds 0,1,2 --steps 200 --out parity/rotmnist-T2
    python benchmarks/lieconv_parity.py ... --oil-src OIL_DIR --case qm9-T3 --out parity/qm9-T3
    python benchmarks/lieconv_parity.py --summarize parity/rotmnist-T2     # table and figure again

Cases: ``rotmnist-T2``, ``rotmnist-SE2`` (test error, %) and ``qm9-T3`` (HOMO test MAE, meV).
Variants: ``official`` (mfinzi/LieConv imported unmodified from ``--official-src`` with runtime shims
only, ``official_shims.py``), ``lconv`` (the default, one neighbourhood draw per batch for images) and,
for images, ``lconv-per-image`` (``model.shared_neighbourhoods=false``, the official per-image draw).

Everything but the network is shared, so a difference is the network's: each variant trains in its
own process on the experiment's own data protocol (``lieconv_rotmnist`` / ``lieconv_qm9``: splits,
normalisation, augmentation), with the same seeded batch order and augmentation draws for a given
seed, the same optimizer (Adam), learning rate, batch size, LieConv cosine schedule over
``--steps`` steps, and the same validation points (``--evals`` evenly spaced) and test set. The
model settings are the official ones at width ``--k`` (default: the official width). The seed
also sets each network's initialisation (drawn by its own code). The report gives each variant's
mean ± std (and min–max) over seeds, says whether lconv's mean is within the official min–max or
better, and saves the validation curves (``learning_curves.png``) and all figures (``parity.json``).

Budget: the test and validation sets are subsets (``--test-size``, ``--val-size``) so a case fits in
about an hour on 2 cores; the number of training steps is what every variant gets. A benchmark, not
a test; nothing of the official code is copied here.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# case: (experiment, group, variants, default steps: about an hour for 3 seeds of every variant on 2 cores
# (measured: SE2 100 steps 92 min, QM9 T3 100 steps 36 min), default validation points)
CASES = {
    "rotmnist-T2": ("lieconv_rotmnist", "T2", ("official", "lconv", "lconv-per-image"), 200, 5),
    "rotmnist-SE2": ("lieconv_rotmnist", "SE2", ("official", "lconv", "lconv-per-image"), 100, 5),
    "qm9-T3": ("lieconv_qm9", "T3", ("official", "lconv"), 100, 4),
}


def compose_config(case: str, args) -> object:
    """The experiment's config for ``case`` at this budget (the lconv side's settings, and the shared data protocol)."""
    from hydra import compose, initialize_config_module

    experiment, group = CASES[case][:2]
    overrides = [f"experiment={experiment}", f"group={group}", "scale=paper", f"trainer.max_steps={args.steps}"]
    if experiment == "lieconv_rotmnist":
        overrides += [f"data.val_size={args.val_size}", f"data.test_subset={args.test_size}"]
    else:
        overrides += ["data.target=homo", f"data.valid_subset={args.val_size}", f"data.test_subset={args.test_size}"]
        if args.train_size:
            overrides += [f"data.train_subset={args.train_size}"]
    if args.k:
        overrides += [f"model.k={args.k}"]
    with initialize_config_module("lconv_cli.conf", version_base="1.3"):
        return compose("config", overrides=overrides)


def official_model(case: str, cfg, official_src: str, oil_src: str | None):
    """The official network of ``case`` with the config's settings, and a forward taking lconv's batch."""
    from official_shims import import_official

    lie_conv = import_official(official_src, oil_src)
    groups, m = lie_conv.lieGroups, cfg.model
    if case.startswith("rotmnist"):
        group = groups.T(2) if cfg.group == "T2" else groups.SE2(float(m.alpha))
        model = lie_conv.lieConv.ImgLieResnet(
            num_targets=10,
            k=int(m.k),
            total_ds=float(m.total_ds),
            fill=float(m.fill),
            nbhd=int(m.nbhd),
            group=group,
            liftsamples=int(m.liftsamples),
        )
        return model, model
    model = lie_conv.moleculeTrainer.MolecLieResNet(
        5, 9, k=int(m.k), act="swish", bn=True, aug=False, mean=True, num_layers=int(m.num_layers),
        group=groups.T(3), fill=float(m.fill), nbhd=int(m.nbhd),
    )  # fmt: skip
    return model, lambda *batch: lie_conv.lieConv.LieResNet.forward(model, batch).squeeze(-1)


def worker(case: str, variant: str, seed: int, args) -> dict:
    """Train one variant for ``args.steps`` steps; validation curve, test score and seconds."""
    import torch

    from lconv_cli.train.optim import make_schedule

    torch.set_num_threads(args.threads)
    cfg = compose_config(case, args)
    cfg.seed = seed  # lconv's fixed image lift is drawn from the run seed, as in a run
    torch.manual_seed(seed)
    if variant == "official":
        model, forward = official_model(case, cfg, args.official_src, args.oil_src)
    elif case.startswith("rotmnist"):
        from lconv_cli.experiments.lieconv_rotmnist import build_image_model

        cfg.model.shared_neighbourhoods = variant == "lconv"
        model = build_image_model(cfg)
        forward = model
    else:
        from lconv_cli.experiments.lieconv_qm9 import build_molecule_model

        model = build_molecule_model(cfg, "T3")
        forward = model
    data = ImageTask(cfg) if case.startswith("rotmnist") else MoleculeTask(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(cfg.trainer.lr))
    schedule = make_schedule(optimizer, cfg.trainer)
    batches = torch.Generator().manual_seed(10_000 + seed)  # the same batch order for every variant
    augment = torch.Generator().manual_seed(20_000 + seed)  # and the same augmentation draws
    eval_at = {round(args.steps * (i + 1) / args.evals) for i in range(args.evals)}
    curve, seconds = [], 0.0
    for step in range(1, args.steps + 1):
        model.train()
        started = time.perf_counter()
        loss = data.loss(forward, data.train_batch(int(cfg.trainer.batch_size), batches, augment))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        seconds += time.perf_counter() - started
        if not math.isfinite(float(loss.detach())):
            raise SystemExit(f"{variant} seed {seed}: loss {float(loss.detach())} at step {step}")
        if step in eval_at:
            curve.append((step, data.score(model, forward, "val")))
            print(f"{variant} seed {seed} step {step}: val {curve[-1][1]:.4g}", file=sys.stderr, flush=True)
    return {
        "case": case,
        "variant": variant,
        "seed": seed,
        "steps": args.steps,
        "params": sum(p.numel() for p in model.parameters()),
        "train_seconds": seconds,
        "curve": curve,
        "test": data.score(model, forward, "test"),
        "metric": data.metric,
    }


class ImageTask:
    """lieconv_rotmnist's splits, normalisation and rotation augmentation; error in %."""

    metric = "test error (%)"

    def __init__(self, cfg) -> None:
        from lconv_cli.experiments.lieconv_rotmnist import load_splits

        self.augment, self.batch_size = bool(cfg.data.augment), int(cfg.trainer.batch_size)
        train, val, test = load_splits(cfg, "cpu")
        self.splits = {"train": train, "val": val, "test": test}
        self.sampler = None

    def train_batch(self, size: int, batches, augment):
        from lconv_cli.experiments.lieconv_rotmnist import rotated
        from lconv_cli.train.trainer import EpochSampler

        images, labels = self.splits["train"]
        if self.sampler is None:
            self.sampler = EpochSampler(len(images), size)
        idx = self.sampler.next_batch(batches)
        return (rotated(images[idx], augment) if self.augment else images[idx]), labels[idx]

    def loss(self, forward, batch):
        import torch.nn.functional as F

        images, labels = batch
        return F.cross_entropy(forward(images), labels)

    def score(self, model, forward, split: str) -> float:
        import torch

        images, labels = self.splits[split]
        size, wrong = self.batch_size, 0
        model.eval()
        with torch.no_grad():  # batches of the training size: the official model caches its lift for one size
            for i in range(0, len(images), size):
                batch, real = images[i : i + size], len(labels[i : i + size])
                if real < size:  # the last batch, padded with its first image; only the real ones count
                    batch = torch.cat([batch, batch[:1].expand(size - real, -1, -1, -1)])
                wrong += int((forward(batch)[:real].argmax(1) != labels[i : i + size]).sum())
        return 100.0 * wrong / len(images)


class MoleculeTask:
    """lieconv_qm9's split, recentring, augmentation and standardised L1 loss; HOMO MAE in meV."""

    metric = "HOMO test MAE (meV)"

    def __init__(self, cfg) -> None:
        from lconv_cli.data.qm9 import TARGET_NAMES, TargetScaler
        from lconv_cli.experiments.lieconv_qm9 import load_molecules

        train, valid, test = load_molecules(cfg, TARGET_NAMES.index("homo"), "T3", "cpu")
        self.splits = {"train": train, "val": valid, "test": test}
        self.sampler = None
        self.scaler = TargetScaler.fit(train.targets)
        self.shift_std = float(cfg.data.shift_std) if cfg.data.augment else None

    def train_batch(self, size: int, batches, augment):
        from lconv_cli.experiments.lieconv_qm9 import augment as augmented
        from lconv_cli.train.trainer import EpochSampler

        train = self.splits["train"]
        if self.sampler is None:
            self.sampler = EpochSampler(len(train), size)
        positions, features, mask, y = train.batch(self.sampler.next_batch(batches))
        if self.shift_std is not None:
            positions = augmented(positions, mask, augment, self.shift_std)
        return positions, features, mask, y

    def loss(self, forward, batch):
        *inputs, y = batch
        prediction = forward(*inputs)
        return (prediction - self.scaler.standardize(y).to(prediction.dtype)).abs().mean()

    def score(self, model, forward, split: str) -> float:
        import torch

        molecules, total = self.splits[split], 0.0
        model.eval()
        with torch.no_grad():
            for start in range(0, len(molecules), 250):
                idx = torch.arange(start, min(start + 250, len(molecules)))
                *inputs, y = molecules.batch(idx)
                prediction = self.scaler.unstandardize(forward(*inputs).double())
                total += float((prediction - y).abs().sum())
        return total / len(molecules)


def run_jobs(case: str, args, out: Path) -> list[dict]:
    """Every (seed, variant) in its own process, ``args.jobs`` at a time; finished ones are kept in ``out``
    (an interrupted case continues where it stopped)."""
    variants = [v for v in CASES[case][2] if v != "official" or args.official_src]
    pending = [(seed, v) for seed in args.seeds for v in variants if not (out / f"{v}-seed{seed}.json").is_file()]
    running: list[tuple[subprocess.Popen, Path]] = []
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    while pending or running:
        while pending and len(running) < args.jobs:
            seed, variant = pending.pop(0)
            command = [sys.executable, __file__, "--worker", variant, "--seed", str(seed), *forwarded(args, case)]
            path = out / f"{variant}-seed{seed}.json"
            log = open(out / f"{variant}-seed{seed}.log", "w")  # noqa: SIM115 (closed with the process)
            running.append((subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env), path))
        finished = [job for job in running if job[0].poll() is not None]
        if not finished:
            time.sleep(1.0)
            continue
        for job in finished:
            running.remove(job)
            process, path = job
            stdout = process.stdout.read()
            if process.returncode != 0:
                raise SystemExit(f"{path.stem} failed; see {path.with_suffix('.log')}")
            path.write_text(stdout.strip().splitlines()[-1] + "\n")
            print(f"done: {path.stem}", flush=True)
    return [json.loads(p.read_text()) for p in sorted(out.glob("*-seed*.json"))]


def forwarded(args, case: str) -> list[str]:
    values = ["--case", case, "--steps", args.steps, "--evals", args.evals, "--threads", args.threads]
    values += ["--val-size", args.val_size, "--test-size", args.test_size]
    for flag, value in (("--k", args.k), ("--train-size", args.train_size), ("--oil-src", args.oil_src)):
        if value:
            values += [flag, value]
    if args.official_src:
        values += ["--official-src", args.official_src]
    return [str(v) for v in values]


def summarize(results: list[dict], out: Path) -> dict:
    """Per-variant statistics, the verdict, ``parity.json`` and ``learning_curves.png``."""
    by_variant: dict[str, list[dict]] = {}
    for r in results:
        by_variant.setdefault(r["variant"], []).append(r)
    rows = {}
    for variant, runs in by_variant.items():
        tests = [r["test"] for r in runs]
        rows[variant] = {
            "seeds": [r["seed"] for r in runs],
            "test": tests,
            "mean": statistics.mean(tests),
            "std": statistics.stdev(tests) if len(tests) > 1 else 0.0,
            "min": min(tests),
            "max": max(tests),
            "params": runs[0]["params"],
            "train_seconds": statistics.mean(r["train_seconds"] for r in runs),
        }
    official = rows.get("official")
    for variant, row in rows.items():
        if official and variant != "official":
            row["within_official_spread_or_better"] = row["mean"] <= official["max"]
    first = results[0]
    summary = {"case": first["case"], "metric": first["metric"], "steps": first["steps"], "variants": rows}
    (out / "parity.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_curves(by_variant, first, out / "learning_curves.png")
    print(f"{first['case']}: {first['metric']} after {first['steps']} steps (lower is better)")
    print(f"{'variant':<17}{'mean ± std':>18}{'min–max':>18}{'params':>12}{'train s':>9}  within official spread")
    for variant, row in sorted(rows.items(), key=lambda item: (item[0] != "official", item[0])):
        verdict = {True: "yes", False: "NO"}.get(row.get("within_official_spread_or_better"), "—")
        spread = f"{row['min']:.4g}–{row['max']:.4g}"
        print(
            f"{variant:<17}{row['mean']:>10.4g} ± {row['std']:<6.2g}{spread:>18}"
            f"{row['params']:>12,}{row['train_seconds']:>9.0f}  {verdict}"
        )
    return summary


def plot_curves(by_variant: dict[str, list[dict]], first: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for variant, runs in sorted(by_variant.items()):
        steps = [s for s, _ in runs[0]["curve"]]
        values = [[v for _, v in r["curve"]] for r in runs]
        mean = [statistics.mean(col) for col in zip(*values)]
        ax.plot(steps, mean, marker="o", label=f"{variant} (mean of {len(runs)})")
        ax.fill_between(steps, [min(c) for c in zip(*values)], [max(c) for c in zip(*values)], alpha=0.2)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation " + first["metric"].replace("test ", ""))
    ax.set_title(f"{first['case']}: equal budget, same data")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), default="rotmnist-T2")
    parser.add_argument("--official-src", default=None, help="an unmodified checkout of mfinzi/LieConv")
    parser.add_argument("--oil-src", default=None, help="an unmodified checkout of mfinzi/olive-oil-ml (qm9-T3)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the case's, CASES)")
    parser.add_argument("--evals", type=int, default=None, help="validation points (default: the case's, CASES)")
    parser.add_argument("--k", type=int, default=None, help="network width (default: the official)")
    parser.add_argument("--train-size", type=int, default=None, help="qm9: training molecules (default: all)")
    parser.add_argument("--val-size", type=int, default=500)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2, help="processes at a time")
    parser.add_argument("--threads", type=int, default=None, help="threads per process (default: 2 / jobs)")
    parser.add_argument("--out", default=None, help="results directory (default: parity/<case>)")
    parser.add_argument("--summarize", default=None, help="print the table of an existing results directory")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))  # official_shims
    if args.summarize:
        directory = Path(args.summarize)
        summarize([json.loads(p.read_text()) for p in sorted(directory.glob("*-seed*.json"))], directory)
        return
    args.threads = args.threads or max(1, 2 // args.jobs)
    args.steps = args.steps or CASES[args.case][3]
    args.evals = args.evals or CASES[args.case][4]
    if args.worker:
        print(json.dumps(worker(args.case, args.worker, args.seed, args)))
        return
    if args.case.startswith("qm9") and args.official_src and not args.oil_src:
        parser.error("qm9 cases need --oil-src (the official molecule model imports olive-oil-ml)")
    args.seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out or f"parity/{args.case}")
    out.mkdir(parents=True, exist_ok=True)
    budget = {k: v for k, v in vars(args).items() if k not in ("jobs", "threads", "summarize", "worker", "seed")}
    settings = out / "settings.json"
    if settings.is_file() and json.loads(settings.read_text()) != json.loads(json.dumps(budget, default=str)):
        parser.error(f"{out} holds results of other settings ({settings}); choose another --out")
    settings.write_text(json.dumps(budget, indent=2, default=str) + "\n")
    summarize(run_jobs(args.case, args, out), out)


if __name__ == "__main__":
    main()
