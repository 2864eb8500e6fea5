"""Run directories: a taken name is never reused."""

from __future__ import annotations

from lconv_cli.runner import rundir


def test_claim_takes_a_new_name_when_the_directory_exists(tmp_path):
    first = rundir.claim(tmp_path / "runs" / "2026-01-01_00-00-00")
    second = rundir.claim(tmp_path / "runs" / "2026-01-01_00-00-00")
    assert first.name == "2026-01-01_00-00-00" and second.name == "2026-01-01_00-00-00_1"
    assert (first / rundir.CLAIM_FILE).is_file() and (second / rundir.CLAIM_FILE).is_file()
