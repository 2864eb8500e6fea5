"""Multirun sweeps: summary, isolation of failing jobs, local parallel and submitit launchers."""

import csv

from tests.helpers import SMOKE, lconv, read_json


def run_sweep(tmp_path, *args, timeout=300):
    sweep_dir = tmp_path / "sweep"
    proc = lconv("run", *args, f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path, timeout=timeout)
    summary = read_json(sweep_dir / "summary.json") if (sweep_dir / "summary.json").is_file() else None
    return proc, sweep_dir, summary


def test_two_seed_sweep_with_summary(tmp_path):
    # -m after the overrides: flags work in any position.
    proc, sweep_dir, rows = run_sweep(tmp_path, *SMOKE, "seed=0,1", "-m")
    assert proc.returncode == 0, proc.stderr
    assert (sweep_dir / "multirun.yaml").is_file()
    assert [row["job"] for row in rows] == ["0", "1"]
    assert [row["seed"] for row in rows] == [0, 1]
    assert all(row["status"] == "ok" for row in rows)
    assert rows[0]["metrics"]["generator_cos_data"] != rows[1]["metrics"]["generator_cos_data"]
    for job in ("0", "1"):
        assert read_json(sweep_dir / job / "metrics.json")["status"] == "ok"
    with open(sweep_dir / "summary.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [r["seed"] for r in table] == ["0", "1"] and "generator_cos_data" in table[0]
    assert "sweep" in proc.stdout and "2/2 ok" in proc.stdout


def test_failing_job_does_not_stop_the_sweep(tmp_path):
    proc, _, rows = run_sweep(tmp_path, "-m", *SMOKE, "trainer.lr=1e6,0.03")
    assert proc.returncode == 1
    assert [row["status"] for row in rows] == ["diverged", "ok"]
    assert "trainer.lr=1000000.0" in rows[0]["overrides"]  # as Hydra writes it


def test_joblib_launcher_runs_jobs_in_parallel_processes(tmp_path):
    proc, _sweep_dir, rows = run_sweep(tmp_path, "-m", *SMOKE, "launcher=joblib", "seed=0,1")
    assert proc.returncode == 0, proc.stderr
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert "Joblib" in proc.stderr + proc.stdout


def test_submitit_local_executor(tmp_path):
    proc, sweep_dir, rows = run_sweep(tmp_path, "-m", *SMOKE, "launcher=submitit_local", "seed=0,1", timeout=600)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert (sweep_dir / ".submitit").is_dir()
