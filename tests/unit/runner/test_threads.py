"""CPU threads: the automatic count from free CPUs, and claims shared by runs starting together."""

from __future__ import annotations

import os


def test_auto_threads_takes_the_free_cpus():
    from lconv_cli.runner.threads import auto_threads, available_cpus, busy_cpus

    cpus = available_cpus()
    assert auto_threads(busy=0.0) == cpus
    assert auto_threads(busy=float(cpus)) == 1  # a fully busy machine still gets one thread
    assert auto_threads(busy=cpus - 1.2) == max(1, round(1.2))
    assert auto_threads(parallel_jobs=2) == max(1, cpus // 2)
    assert 0.0 <= busy_cpus(0.05) <= cpus + 0.01


def test_runs_starting_together_share_the_cpus_through_claims(tmp_path, monkeypatch):
    from lconv_cli.runner import threads

    monkeypatch.setattr(threads, "claims_dir", lambda: tmp_path)
    monkeypatch.setattr(threads, "busy_cpus", lambda seconds=0.0: 0.0)
    cpus = threads.available_cpus()
    (tmp_path / f"{os.getppid()}.threads").write_text(f"{cpus}\n")
    assert threads.claim_auto_threads() == 1  # another live run holds every CPU
    assert (tmp_path / f"{os.getpid()}.threads").read_text().strip() == "1"
    (tmp_path / f"{os.getppid()}.threads").unlink()
    (tmp_path / "999999999.threads").write_text(f"{cpus}\n")  # no such process: a stale claim, dropped
    assert threads.claim_auto_threads() == cpus and not (tmp_path / "999999999.threads").exists()
    threads.release_claim()
    assert not (tmp_path / f"{os.getpid()}.threads").exists()
