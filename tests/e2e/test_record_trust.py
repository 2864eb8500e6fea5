"""The run record can be trusted: own directories, kill -9 and resume, honest resume, refused values,
clear lines for unwritable paths and damaged files, caches out of the data root, the config that ran."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.fake_datasets import fake_idx_dataset
from tests.helpers import LCONV, SHARED_DATA, SMOKE, lconv, read_json, wait_for


def timeless(path: Path) -> dict:
    return {k: v for k, v in read_json(path)["metrics"].items() if "second" not in k}


def popen(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.Popen:
    full_env = {**os.environ, "WANDB_MODE": "disabled", **(env or {})}
    return subprocess.Popen(
        [LCONV, "run", *args], cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def one_line_error(proc) -> str:
    """The single error line of a run refused before it started (nothing else on stderr)."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("lconv: error: "), proc.stderr
    return lines[0]


def run_error(proc) -> str:
    """The single error line of a run that stopped on a user error once started (after its log preamble)."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1, proc.stderr
    return errors[0]


# --- own directories -------------------------------------------------------------------------------


def test_concurrent_runs_keep_whole_consistent_records(tmp_path):
    procs = {seed: popen(["so2_discovery", *SMOKE, f"seed={seed}"], cwd=tmp_path) for seed in (11, 12)}
    for proc in procs.values():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    run_dirs = sorted((tmp_path / "outputs" / "so2_discovery").iterdir())
    assert len(run_dirs) == 2
    seeds = set()
    for run_dir in run_dirs:
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        record = read_json(run_dir / "metrics.json")
        overrides = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
        log = (run_dir / "run.log").read_text()
        seed = config["seed"]
        assert record["seed"] == seed and f"seed={seed}" in overrides and f"seed={seed}" in record["overrides"]
        assert f"seed {seed} on" in log and f"seed {23 - seed} on" not in log
        seeds.add(seed)
    assert seeds == {11, 12}


def test_two_runs_given_the_same_directory_never_share_it(tmp_path):
    target = tmp_path / "same"
    procs = [popen([*SMOKE, f"seed={seed}", f"paths.output_dir={target}"], cwd=tmp_path) for seed in (1, 2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert str(target) in refused and len(refused.strip().splitlines()) == 1
    winner = read_json(target / "metrics.json")["seed"]
    assert yaml.safe_load((target / "config.yaml").read_text())["seed"] == winner
    again = lconv("run", *SMOKE, f"paths.output_dir={target}", cwd=tmp_path)
    assert "already holds a run (ok)" in one_line_error(again)


def test_concurrent_sweeps_get_their_own_sweep_directories(tmp_path):
    procs = [popen(["-m", *SMOKE, f"seed={seed}"], cwd=tmp_path) for seed in (0, 1)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    sweeps = sorted((tmp_path / "outputs" / "multirun").iterdir())
    assert len(sweeps) == 2
    seeds = sorted(tuple(row["seed"] for row in read_json(sweep / "summary.json")) for sweep in sweeps)
    assert seeds == [(0,), (1,)]


# --- kill -9 and resume ----------------------------------------------------------------------------


def kill_then_resume(tmp_path: Path, args: list[str], env: dict) -> tuple[Path, Path, int]:
    """An uninterrupted run, and the same run killed with SIGKILL after its first checkpoint, then
    resumed. Returns (straight dir, killed dir, the step the resume started from)."""
    straight = tmp_path / "straight"
    proc = lconv("run", *args, f"paths.output_dir={straight}", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    killed = tmp_path / "killed"
    proc = popen([*args, f"paths.output_dir={killed}"], cwd=tmp_path, env=env)
    deadline = time.monotonic() + 120
    while not (killed / "checkpoint.pt").is_file():
        assert time.monotonic() < deadline and proc.poll() is None, (
            proc.stderr.read() if proc.poll() is not None else "timeout"
        )
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (killed / "metrics.json").exists(), "the kill must land before the run ended"
    resumed = lconv("run", f"resume={killed}", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    log = (killed / "run.log").read_text()
    step = int(log.split("resumed from")[1].split(" at step ")[1].split("/")[0])
    return straight, killed, step


def test_image_classification_survives_kill_9(tmp_path):
    root = fake_idx_dataset(tmp_path / "data", "MNIST", num_train=600, num_test=100)
    args = [
        "experiment=image_classification",
        *SMOKE,
        "data.verify=false",
        "trainer.epochs=30",
        "trainer.checkpoint_every=3",
    ]
    straight, killed, step = kill_then_resume(tmp_path, args, {"LCONV_DATA": str(root)})
    total = read_json(straight / "metrics.json")["metrics"]["steps"]
    assert 0 < step < total, "the kill must land mid-training"
    assert timeless(killed / "metrics.json") == timeless(straight / "metrics.json")


@pytest.mark.slow  # the fast suite keeps test_image_classification_survives_kill_9 (CI time budget)
def test_lieconv_springs_survives_kill_9(tmp_path):
    args = ["experiment=lieconv_springs", *SMOKE, "trainer.epochs=40"]
    straight, killed, step = kill_then_resume(tmp_path, args, {"XDG_CACHE_HOME": str(tmp_path / "cache")})
    total = read_json(straight / "metrics.json")["metrics"]["steps"]
    assert 0 < step < total, "the kill must land mid-training"
    assert timeless(killed / "metrics.json") == timeless(straight / "metrics.json")


# --- honest resume ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("finished")
    proc = lconv("run", *SMOKE, "seed=5", f"paths.output_dir={base / 'run'}", cwd=base)
    assert proc.returncode == 0, proc.stderr
    return base / "run"


def copy_run(run_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(run_dir, target)
    return target


def test_resume_refuses_overrides_that_change_the_run(finished_run, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    before = (run_dir / "metrics.json").read_text()
    line = one_line_error(lconv("run", f"resume={run_dir}", "seed=9", "trainer.lr=0.1", cwd=tmp_path))
    assert "seed, trainer.lr" in line and "logger" in line
    assert (run_dir / "metrics.json").read_text() == before
    assert "data.n" in one_line_error(lconv("run", f"resume={run_dir}", "data.n=9", cwd=tmp_path))
    assert "model" in one_line_error(lconv("run", f"resume={run_dir}", "model=generator_t", cwd=tmp_path))


def test_resume_accepts_safe_and_unchanged_overrides(finished_run, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    proc = lconv(
        "run", "so2_discovery", f"resume={run_dir}", "seed=5", "logger=none", "trainer.progress=false", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert timeless(run_dir / "metrics.json") == timeless(finished_run / "metrics.json")


def test_a_damaged_checkpoint_keeps_the_record(finished_run, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    before = (run_dir / "metrics.json").read_text()
    checkpoint = run_dir / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    proc = lconv("run", f"resume={run_dir}", cwd=tmp_path)
    line = run_error(proc)
    assert str(checkpoint) in line and "damaged" in line
    assert (run_dir / "metrics.json").read_text() == before
    (attempt,) = (run_dir / "attempts").iterdir()
    assert attempt.name == "1-failed" and read_json(attempt / "metrics.json")["status"] == "failed"
    assert "damaged" in read_json(attempt / "metrics.json")["error"]


def test_a_missing_checkpoint_is_one_line(finished_run, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    (run_dir / "checkpoint.pt").unlink()
    line = one_line_error(lconv("run", f"resume={run_dir}", cwd=tmp_path))
    assert "no checkpoint in" in line and str(run_dir) in line
    assert read_json(run_dir / "metrics.json")["status"] == "ok" and not (run_dir / "attempts").exists()


# --- refused values, unwritable paths, damaged data ------------------------------------------------


@pytest.mark.parametrize(
    "override, key",
    [
        ("data.n=0", "data.n"),
        ("data.n=-3", "data.n"),
        ("trainer.batch_size=0", "trainer.batch_size"),
        ("trainer.max_steps=0", "trainer.max_steps"),
        ("trainer.lr=-1", "trainer.lr"),
        ("data.theta_range_deg=[45,0]", "data.theta_range_deg"),
    ],
)
def test_bad_values_are_refused_before_any_work(tmp_path, override, key):
    line = one_line_error(lconv("run", "so2_discovery", override, cwd=tmp_path))
    assert line.startswith(f"lconv: error: {key} must be")
    assert not (tmp_path / "outputs").exists()


def test_every_value_of_a_sweep_is_checked(tmp_path):
    line = one_line_error(lconv("run", "-m", *SMOKE, "trainer.batch_size=8,0", cwd=tmp_path))
    assert "trainer.batch_size must be a positive integer; got 0" in line
    assert not (tmp_path / "outputs").exists()


def test_unwritable_output_paths_are_one_line(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for override, key in (
        (f"paths.output_dir={blocker}/run", "paths.output_dir"),
        (f"paths.log_dir={blocker}/logs", "paths.log_dir"),
    ):
        line = one_line_error(lconv("run", *SMOKE, override, cwd=tmp_path))
        assert str(blocker) in line and key in line
    line = one_line_error(lconv("run", "-m", *SMOKE, "seed=0,1", f"hydra.sweep.dir={blocker}/sweep", cwd=tmp_path))
    assert f"{blocker}/sweep" in line and "hydra.sweep.dir" in line


@pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw").is_dir(), reason="real MNIST not staged on this machine")
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_dataset_file_is_named(tmp_path, damage):
    raw = tmp_path / "data" / "MNIST" / "raw"
    shutil.copytree(SHARED_DATA / "MNIST" / "raw", raw)
    bad = raw / "t10k-labels-idx1-ubyte.gz"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncate" else data[:-9] + bytes([data[-9] ^ 1]) + data[-8:])
    env = {"LCONV_DATA": str(tmp_path / "data")}
    proc = lconv(
        "run", "experiment=image_classification", *SMOKE, f"paths.output_dir={tmp_path / 'run'}", cwd=tmp_path, env=env
    )
    line = run_error(proc)
    assert str(bad) in line and "damaged" in line and "MD5" in line
    unchecked = lconv(
        "run",
        "experiment=image_classification",
        *SMOKE,
        "data.verify=false",
        f"paths.output_dir={tmp_path / 'unchecked'}",
        cwd=tmp_path,
        env=env,
    )
    assert str(bad) in run_error(unchecked)  # the reader names it too (gzip or IDX header)


# --- caches, recorded config, interrupted sweeps ---------------------------------------------------


def test_caches_go_to_the_cache_dir_not_the_data_root(compose_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    cfg = compose_cfg(["experiment=lieconv_springs"])
    assert cfg.paths.cache_dir == "/somewhere/cache/lconv" and cfg.data.cache_dir == cfg.paths.cache_dir
    assert compose_cfg(["experiment=lieconv_qm9"]).data.cache_dir == "/somewhere/cache/lconv"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "/home/someone")
    assert compose_cfg([]).paths.cache_dir == "/home/someone/.cache/lconv"

    data_root = tmp_path / "data"
    data_root.mkdir()
    proc = lconv(
        "run",
        "experiment=lieconv_springs",
        *SMOKE,
        f"paths.output_dir={tmp_path / 'run'}",
        cwd=tmp_path,
        env={"LCONV_DATA": str(data_root), "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert proc.returncode == 0, proc.stderr
    assert list(data_root.iterdir()) == []
    assert list((tmp_path / "cache" / "lconv" / "springs").glob("*.pt"))


def test_the_recorded_config_is_what_ran_and_reruns_to_the_same_metrics(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = lconv(
        "run", "experiment=lieconv_springs", *SMOKE, f"paths.output_dir={tmp_path / 'run'}", cwd=tmp_path, env=env
    )
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    trainer = config["trainer"]
    assert trainer["max_steps"] == 2 and trainer["log_every"] == 2 and trainer["checkpoint_every"] == 2
    assert trainer["lr"] == 0.001 and isinstance(config["num_threads"], int) and config["device"] == "cpu"
    rerun = subprocess.run(
        [LCONV, "rerun", str(tmp_path / "run")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "WANDB_MODE": "disabled", **env},
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    (new_dir,) = (tmp_path / "outputs" / "lieconv_springs").iterdir()
    assert timeless(new_dir / "metrics.json") == timeless(tmp_path / "run" / "metrics.json")
    again = yaml.safe_load((new_dir / "config.yaml").read_text())
    assert {k: v for k, v in again.items() if k != "paths"} == {k: v for k, v in config.items() if k != "paths"}


def test_rerun_needs_a_run_directory(tmp_path):
    proc = subprocess.run([LCONV, "rerun", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "holds no config.yaml" in proc.stderr


LONG_JOB = ["data.n=5", "model.exp_method=recursive", "model.recursion_steps=4", "trainer.batch_size=64"]


def test_an_interrupted_sweep_writes_its_summary(tmp_path):
    sweep = tmp_path / "sweep"
    # Job 0 is short; job 1 is still training when SIGTERM arrives; job 2 never starts.
    proc = popen(
        [
            "-m",
            *SMOKE,
            "trainer.max_steps=60,6000,60",
            "seed=3",
            f"hydra.sweep.dir={sweep}",
            *LONG_JOB,
            "trainer.log_every=20",
        ],
        cwd=tmp_path,
    )
    wait_for(sweep / "1" / "run.log", "training started", timeout=240)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    rows = read_json(sweep / "summary.json")
    assert [row["status"] for row in rows] == ["ok", "interrupted", "not_started"]
    assert "trainer.max_steps=60" in rows[2]["overrides"]
    csv_text = (sweep / "summary.csv").read_text()
    assert "interrupted" in csv_text and "not_started" in csv_text


# --- CPU threads -----------------------------------------------------------------------------------


def test_the_thread_count_is_recorded_and_kept_on_resume(finished_run, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    recorded = yaml.safe_load((run_dir / "config.yaml").read_text())["num_threads"]
    assert isinstance(recorded, int) and recorded >= 1
    from lconv_cli.runner.cli import resume_overrides

    assert f"num_threads={recorded}" in resume_overrides([f"resume={run_dir}"])
    assert "num_threads" in one_line_error(
        lconv("run", f"resume={run_dir}", f"num_threads={recorded + 1}", cwd=tmp_path)
    )
