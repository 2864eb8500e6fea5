"""Interrupt and resume reproduce an uninterrupted run; W&B offline leaves a run directory."""

import os
import signal
import subprocess
import time

from tests.helpers import LCONV, SMOKE, lconv, read_json, wait_for

# Long enough that the signal lands mid-training, short enough for the fast suite.
RESUMABLE = [
    *SMOKE,
    "data.n=5",
    "model.exp_method=recursive",
    "model.recursion_steps=4",
    "trainer.batch_size=64",
    "trainer.max_steps=6000",
    "trainer.checkpoint_every=0",
]


def test_interrupt_then_resume_equals_uninterrupted(tmp_path):
    straight = lconv("run", *RESUMABLE, f"paths.output_dir={tmp_path / 'straight'}", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    expected = read_json(tmp_path / "straight" / "metrics.json")["metrics"]

    run_dir = tmp_path / "interrupted"
    env = {**os.environ, "WANDB_MODE": "disabled"}
    proc = subprocess.Popen(
        [LCONV, "run", *RESUMABLE, f"paths.output_dir={run_dir}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(run_dir / "run.log", "training started")
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    record = read_json(run_dir / "metrics.json")
    assert record["status"] == "interrupted"
    assert (run_dir / "checkpoint.pt").is_file()
    assert f"lconv run resume={run_dir}" in err

    resumed = lconv("run", f"resume={run_dir}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    log_text = (run_dir / "run.log").read_text()
    step = int(log_text.split("resumed from")[1].split(" at step ")[1].split("/")[0])
    assert 0 < step < 4000, "the interrupt must land mid-training for this test to mean anything"
    record = read_json(run_dir / "metrics.json")
    assert record["status"] == "ok"
    got = record["metrics"]
    assert {k: v for k, v in got.items() if "seconds" not in k} == {  # wall times differ, nothing else
        k: v for k, v in expected.items() if "seconds" not in k
    }


def test_sigterm_also_checkpoints(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "WANDB_MODE": "disabled"}
    proc = subprocess.Popen(
        [LCONV, "run", *RESUMABLE, f"paths.output_dir={run_dir}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(run_dir / "run.log", "training started")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert read_json(run_dir / "metrics.json")["status"] == "interrupted"
    assert (run_dir / "checkpoint.pt").is_file()


def test_resume_needs_a_run_directory(tmp_path):
    proc = lconv("run", f"resume={tmp_path / 'nowhere'}", cwd=tmp_path)
    assert proc.returncode == 2 and "not a run directory" in proc.stderr


def test_wandb_offline_writes_a_run_directory(tmp_path):
    run_dir = tmp_path / "run"
    proc = lconv(
        "run",
        "scale=smoke",
        "logger=wandb",
        f"paths.output_dir={run_dir}",
        cwd=tmp_path,
        env={"WANDB_MODE": "offline", "WANDB_API_KEY": ""},
    )
    assert proc.returncode == 0, proc.stderr
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")
    assert list(offline_run.glob("*.wandb")), "no .wandb log file"
    assert list((offline_run / "files" / "media" / "images").glob("figures/so2_generator*.png"))
    assert read_json(run_dir / "metrics.json")["status"] == "ok"


def test_wandb_sweep_gives_one_run_per_job(tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = lconv(
        "run",
        "-m",
        "scale=smoke",
        "logger=wandb",
        "seed=0,1",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
        env={"WANDB_MODE": "offline", "WANDB_API_KEY": ""},
    )
    assert proc.returncode == 0, proc.stderr
    runs = [list((sweep_dir / job / "wandb").glob("offline-run-*")) for job in ("0", "1")]
    assert [len(r) for r in runs] == [1, 1]
    assert runs[0][0].name.split("-")[-1] != runs[1][0].name.split("-")[-1]
