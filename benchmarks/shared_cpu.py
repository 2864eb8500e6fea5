"""Slowdown of an lconv run beside one other CPU-bound lconv run, against the same run alone.

    python benchmarks/shared_cpu.py [--cases so2,image,lieconv] [--repeats 2] [--lconv PATH]
                                    [--baseline SITE_DIR] [--out DIR] [-- EXTRA OVERRIDES...]

For each case it runs, interleaved (alone, beside, alone, beside, ...): the run alone, and the same
run while a companion (the same experiment with a longer training, same version) is training
beside it. It reports the runs' ``train_seconds`` (optimisation time, from metrics.json), the median
alone time and the median slowdown ratio. Extra overrides after ``--`` go to every run (e.g.
``num_threads=2`` to measure a fixed thread count). Needs LCONV_DATA (MNIST) for the image case.

``--baseline SITE_DIR`` measures another version of lconv in the same interleaved loop: a folder
with that version installed (``pip install --no-deps --target SITE_DIR <its wheel>``), put first
on PYTHONPATH for its runs. Its results are printed as ``<case>/baseline``.

A benchmark, not a test: run it on an otherwise idle machine (check ``uptime``), never beside the
test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    # name: (overrides of the timed run, extra overrides that make the companion train for longer)
    "so2": (["experiment=so2_discovery"], ["trainer.max_steps=200000"]),
    "image": (
        [
            "experiment=image_classification",
            "dataset=mnist",
            "variant=rotated",
            "model=lconv",
            "data.train_subset=40000",
            "data.test_subset=500",
            "trainer.epochs=1",
        ],
        ["trainer.epochs=100"],
    ),
    "lieconv": (
        [
            "experiment=lieconv_springs",
            "group=T2",
            "data.num_train=300",
            "data.num_valid=20",
            "data.num_test=20",
            "trainer.epochs=1",
            "evaluation.long_systems=4",
        ],
        ["trainer.epochs=100"],
    ),
}
CASE_EXTRA = {"lieconv": lambda work: [f"data.cache_dir={work / 'cache'}"]}  # the same cache for every version


def lconv_run(lconv: str, overrides: list[str], out_dir: Path, env: dict) -> subprocess.Popen:
    args = [lconv, "run", *overrides, "logger=none", "trainer.progress=false", f"paths.output_dir={out_dir}"]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, out_dir: Path) -> float:
    _, err = proc.communicate()
    record = json.loads((out_dir / "metrics.json").read_text()) if (out_dir / "metrics.json").is_file() else {}
    if proc.returncode != 0 or record.get("status") != "ok":
        raise RuntimeError(f"run in {out_dir} failed (exit {proc.returncode}): {err.strip()[-2000:]}")
    return float(record["metrics"]["train_seconds"])


def wait_training(log_file: Path, proc: subprocess.Popen, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_file.is_file() and "training started" in log_file.read_text():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"companion exited early: {proc.stderr.read()[-2000:]}")
        time.sleep(0.1)
    raise TimeoutError(f"companion never started training ({log_file})")


def measure(lconv: str, case: str, extra: list[str], work: Path, env: dict, index: int) -> tuple[float, float]:
    """(train seconds alone, train seconds beside a training companion)."""
    overrides, longer = CASES[case]
    overrides = overrides + CASE_EXTRA.get(case, lambda _: [])(work)
    alone_dir = work / f"{case}-{index}-alone"
    alone = finish(lconv_run(lconv, overrides + extra, alone_dir, env), alone_dir)
    companion_dir = work / f"{case}-{index}-companion"
    companion = lconv_run(lconv, overrides + extra + longer, companion_dir, env)
    try:
        wait_training(companion_dir / "run.log", companion)
        beside_dir = work / f"{case}-{index}-beside"
        beside = finish(lconv_run(lconv, overrides + extra, beside_dir, env), beside_dir)
    finally:
        companion.kill()
        companion.wait()
    return alone, beside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--lconv", default=str(Path(sys.executable).with_name("lconv")))
    parser.add_argument("--out", default=None, help="keep the run records here (default: a temporary folder)")
    parser.add_argument(
        "--baseline", default=None, help="a site folder with another lconv version to measure alongside"
    )
    parser.add_argument("extra", nargs="*", help="overrides for every run (after --)")
    args = parser.parse_args()
    if os.getloadavg()[0] > 0.5:
        print(f"warning: load average {os.getloadavg()[0]:.2f}; the machine is not idle", file=sys.stderr)
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="lconv-shared-cpu-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WANDB_MODE": "disabled", "XDG_CACHE_HOME": str(work / "cache")}
    extra = list(args.extra)
    versions = {"": env}
    if args.baseline:
        versions["/baseline"] = {
            **env,
            "PYTHONPATH": os.pathsep.join([args.baseline, env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        }
    results = {}
    for case in args.cases.split(","):
        pairs: dict[str, list[tuple[float, float]]] = {label: [] for label in versions}
        for i in range(args.repeats):
            for label, version_env in versions.items():
                pairs[label].append(measure(args.lconv, case, extra, work / f"v{label.strip('/')}", version_env, i))
        for label, measured in pairs.items():
            alone = [a for a, _ in measured]
            ratios = [b / a for a, b in measured]
            results[case + label] = {
                "alone_seconds": alone,
                "beside_seconds": [b for _, b in measured],
                "ratios": ratios,
                "median_alone": statistics.median(alone),
                "median_ratio": statistics.median(ratios),
            }
            print(
                f"{case + label:17s} alone {statistics.median(alone):7.2f} s   beside another run {statistics.median(ratios):5.2f}x   "
                f"(alone {', '.join(f'{a:.2f}' for a in alone)}; beside {', '.join(f'{b:.2f}' for _, b in measured)})",
                flush=True,
            )
    print(json.dumps({"extra": extra, "results": results}))
    if not args.out:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
